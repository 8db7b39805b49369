"""A small scientific "tool" for the subprocess backend tests, run as `python tool.py MODE`.

Modes:
  length          {"length": len(smiles)} per record; a record without smiles fails alone
  fail            writes to stderr and exits 3
  garbage         prints something that is not JSON
  short           answers with one result too few
  env             {"value": os.environ[record["name"]]} and the working directory
  hang PIDFILE    starts a grandchild, writes both pids to PIDFILE, then sleeps
  environ         its whole environment, working directory (mode, entries) and uid
  limits          the resource limits it runs under
  allocate MB     holds MB mebibytes of memory, then answers
  burn            spins on the CPU until it is stopped
  write MB        writes MB mebibytes to a file in its working directory
  touch PATH      creates PATH (a sign that it ran), then answers
  probe KEY       tries to read the file KEY and its parent's environment (the worker's),
                  and reports both with its own environment and uid
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

LIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "core": resource.RLIMIT_CORE,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
}


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


def environ() -> dict[str, object]:
    here = os.getcwd()
    return {
        "environ": dict(os.environ),
        "cwd": here,
        "cwd_mode": stat.S_IMODE(os.stat(here).st_mode),
        "cwd_entries": sorted(os.listdir(here)),
        "uid": os.getuid(),
    }


def read_or_error(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def probe(key: str) -> dict[str, object]:
    return {
        **environ(),
        "key": read_or_error(key),
        "parent_environ": read_or_error(f"/proc/{os.getppid()}/environ"),
    }


def answer(output: dict[str, object], records: list[dict[str, object]]) -> None:
    print(json.dumps({"results": [{"output": output} for _ in records]}))


def run_mode(mode: str, args: list[str], records: list[dict[str, object]]) -> None:
    if mode == "environ":
        answer(environ(), records)
    elif mode == "limits":
        answer({name: list(resource.getrlimit(which)) for name, which in LIMITS.items()}, records)
    elif mode == "allocate":
        held = bytearray(int(args[0]) * 1024 * 1024)
        answer({"held": len(held)}, records)
    elif mode == "burn":
        while True:
            pass
    elif mode == "write":
        with open("big.bin", "wb") as out:
            for _ in range(int(args[0])):
                out.write(b"\0" * 1024 * 1024)
        answer({"written": int(args[0])}, records)
    elif mode == "touch":
        Path(args[0]).touch()
        answer({"touched": args[0]}, records)
    elif mode == "probe":
        answer(probe(args[0]), records)


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
    else:
        run_mode(mode, sys.argv[2:], records)


if __name__ == "__main__":
    main()
