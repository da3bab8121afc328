"""Benchmark: simulated events per second with the fast proposer, on a day of >= 1M events.

Baseline (same run, same machine): the naive way to write the same number of events,
json.dumps of each event dict with default separators and gzip at its default level,
single process, no simulation at all. The simulator must beat 100k events/s here.

    PYTHONPATH=plugins .venv/bin/python bench/simulate.py [--events 1000000] [--workers 2]

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from echo_ops.config import Settings  # noqa: E402
from echo_ops.simulate import simulate_days  # noqa: E402


def _baseline(n: int) -> float:
    """Events/s of json.dumps + gzip alone for n typical keystroke events."""
    event = {
        "schema_version": 1,
        "event_id": "u-0123456789ab-20261102-0.1f3a",
        "type": "document.changed",
        "ts": "2026-11-02T09:15:03.021Z",
        "user_id": "u-0123456789ab",
        "session_id": "u-0123456789ab-20261102-0",
        "client": {"name": "vscode", "version": "1.96.2", "position_encoding": "utf-16"},
        "doc": {
            "uri": "file:///home/u-0123456789ab/rich/console.py",
            "version": 1234,
            "language_id": "python",
        },
        "changes": [
            {
                "range": {
                    "start": {"line": 10, "character": 4},
                    "end": {"line": 10, "character": 4},
                },
                "text": "x",
            }
        ],
    }
    started = time.perf_counter()
    lines = []
    for i in range(n):
        event["doc"]["version"] = i
        lines.append(json.dumps(event))
    gzip.compress(("\n".join(lines) + "\n").encode())
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="client events for the day")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    base = _baseline(200_000)
    print(f"baseline json+gzip: {base:,.0f} events/s", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_root=Path(tmp))
        done = lambda d, t: print(f"  people-days {d}/{t}", file=sys.stderr)  # noqa: E731
        cpu0 = time.process_time()
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = simulate_days(
            date(2026, 11, 2),
            1,
            users=args.users,
            target_events=args.events,
            workers=args.workers,
            settings=settings,
            progress=done,
        )
        parent_cpu = time.process_time() - cpu0
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = kids.ru_utime + kids.ru_stime - kids0.ru_utime - kids0.ru_stime
        size = sum(p.stat().st_size for p in Path(result["landing"]).rglob("*.gz"))
    events = result["client_events"] + result["server_events"]
    print(
        json.dumps(
            {
                "bench": "simulate",
                "events": events,
                "client_events": result["client_events"],
                "server_events": result["server_events"],
                "lines_written": result["lines"],
                "seconds": result["seconds"],
                "events_per_s": result["events_per_s"],
                "target_events_per_s": 100_000,
                "meets_target": result["events_per_s"] >= 100_000,
                "baseline_json_gzip_events_per_s": round(base),
                "speedup_vs_baseline": round(result["events_per_s"] / base, 2),
                "acceptance_rate": result["acceptance_rate"],
                "landing_mb": round(size / 1e6, 1),
                "workers": args.workers,
                "parent_cpu_s": round(parent_cpu, 2),
                "worker_cpu_s": round(child_cpu, 2),
                # Throughput per CPU-second: what each core gives when the machine is not shared
                # (2 cores are shared by 4 engineers here, so wall-clock rates swing with load).
                "events_per_cpu_s": round(events / (parent_cpu + child_cpu)),
                "est_events_per_s_on_free_cores": round(
                    events / (parent_cpu + child_cpu) * args.workers
                ),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
