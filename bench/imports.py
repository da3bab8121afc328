"""Benchmark: importing a Continue autocomplete log against Python's JSON floor.

Writes a synthetic `dev_data/0.2.0/autocomplete.jsonl` of `--lines` lines (the fixture's
first line with fresh completion ids and times, one accept in four), then times
`echo_ops.adapters.importer.import_files` on it (convert + write the landing objects +
bookkeeping) and, in the same run, the floor: `json.loads` of every line and `json.dumps`
of one event per line. A re-import (same bytes) is timed too: it must add nothing.

    PYTHONPATH=plugins .venv/bin/python bench/imports.py --lines 50000

Last line: one JSON object (lines, lines_per_s, floor_ratio, reimport_s, peak_rss_mb).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
FIXTURE = ROOT / "tests/fixtures/imports/continue/alice/dev_data/0.2.0/autocomplete.jsonl"


def write_log(path: Path, n: int) -> None:
    rec = json.loads(FIXTURE.read_text().splitlines()[0])
    path.parent.mkdir(parents=True)
    with path.open("w") as f:
        for i in range(n):
            rec["completionId"] = f"b-{i}"
            rec["accepted"] = i % 4 == 0
            rec["timestamp"] = (
                f"2026-11-02T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z"
            )
            f.write(json.dumps(rec) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="echo-bench-imports-") as tmp:
        os.environ["ECHO_DATA_ROOT"] = tmp
        os.environ["ECHO_IMPORTS__USER_ID_KEY"] = "bench"
        from echo_ops.adapters.importer import import_files, local_files
        from echo_ops.config import get_settings
        from echo_ops.warehouse import open_warehouse

        log = Path(tmp) / "dev_data" / "0.2.0" / "autocomplete.jsonl"
        write_log(log, args.lines)
        started = time.perf_counter()
        for line in log.read_text().splitlines():
            json.dumps(json.loads(line), sort_keys=True)
        floor_s = time.perf_counter() - started

        settings = get_settings()
        with open_warehouse(settings) as con:
            started = time.perf_counter()
            first = import_files(con, "continue", local_files("continue", [log]), settings)
            import_s = time.perf_counter() - started
            started = time.perf_counter()
            again = import_files(con, "continue", local_files("continue", [log]), settings)
            reimport_s = time.perf_counter() - started
    assert first.events == 3 * args.lines and again.events == 0 and again.unchanged == 1
    print(
        json.dumps(
            {
                "bench": "imports",
                "lines": args.lines,
                "mb": round(log_size_mb(args.lines), 1),
                "import_s": round(import_s, 2),
                "lines_per_s": round(args.lines / import_s),
                "floor_s": round(floor_s, 2),
                "floor_ratio": round(import_s / floor_s, 2),
                "reimport_s": round(reimport_s, 3),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
        )
    )


def log_size_mb(lines: int) -> float:
    return lines * len(FIXTURE.read_text().splitlines()[0]) / 1e6


if __name__ == "__main__":
    main()
