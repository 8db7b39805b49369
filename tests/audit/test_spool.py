"""The spool and the local sink: objects partitioned by the records' date and
hour, gzip JSON Lines, the same layout locally as in S3. No servers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from audit.records import job_record
from audit.sink import LocalSink
from audit.spool import Spool


def test_records_land_in_hour_partitions_under_the_local_root(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "audit")
    records = [
        job_record("m", "1-0", {"job": "j1", "status": "QUEUED", "time": "1795348800.5", "input": '[{"n": 1}]'}),
        job_record("m", "2-0", {"job": "j1", "status": "SUCCEEDED", "time": "1795352400.25", "exec_seconds": "0.5"}),
    ]
    files = spool.write(records)
    keys = sorted(spool.key_of(f) for f in files)
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "audit/dt=2026-11-22/hour=12",
        "audit/dt=2026-11-22/hour=13",
    ]
    sink = LocalSink(tmp_path / "home")
    for path in spool.pending():
        sink.put(spool.key_of(path), path)
        path.unlink()
    assert spool.pending() == []
    shipped = sorted((tmp_path / "home" / "audit").rglob("*.jsonl.gz"))
    lines = [json.loads(line) for p in shipped for line in gzip.decompress(p.read_bytes()).splitlines()]
    assert [(r["job"], r["status"]) for r in lines] == [("j1", "QUEUED"), ("j1", "SUCCEEDED")]
    assert lines[0]["input"] == [{"n": 1}] and lines[1]["exec_seconds"] == 0.5
