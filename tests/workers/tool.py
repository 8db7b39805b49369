"""A small scientific "tool" for the subprocess backend tests, run as `python tool.py MODE`.

Modes:
  length          {"length": len(smiles)} per record; a record without smiles fails alone
  fail            writes to stderr and exits 3
  garbage         prints something that is not JSON
  short           answers with one result too few
  env             {"value": os.environ[record["name"]]} and the working directory
  hang PIDFILE    starts a grandchild, writes both pids to PIDFILE, then sleeps
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def length(records: list[dict[str, object]]) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for record in records:
        smiles = record.get("smiles")
        if isinstance(smiles, str):
            results.append({"output": {"length": len(smiles)}})
        else:
            results.append({"error": "no smiles"})
    return results


def hang(pidfile: str) -> None:
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(pidfile + ".tmp", "w") as out:
        out.write(f"{os.getpid()} {grandchild.pid}")
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(60)


def main() -> None:
    mode = sys.argv[1]
    records = json.load(sys.stdin)["records"]
    if mode == "length":
        print(json.dumps({"results": length(records)}))
    elif mode == "fail":
        sys.stderr.write("loading parameters...\nfatal: force field not found\n")
        sys.exit(3)
    elif mode == "garbage":
        print("Segmentation fault? no: just not JSON")
    elif mode == "short":
        print(json.dumps({"results": length(records)[:-1]}))
    elif mode == "env":
        outputs = [
            {"output": {"value": os.environ[r["name"]], "cwd": os.getcwd()}} for r in records
        ]
        print(json.dumps({"results": outputs}))
    elif mode == "hang":
        hang(sys.argv[2])


if __name__ == "__main__":
    main()
