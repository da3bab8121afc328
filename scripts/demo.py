"""The main job end to end on the embedded defaults, through the real DAGs.

`make demo` runs this after setting up the venv and a project-local Airflow home:
bootstrap the base model (once), simulate a few days of production traffic, run
`airflow dags test echo_daily` for each day, then `airflow dags test echo_train`
(fine-tune, evaluate, promote or reject), serve one more simulated day with the previous
and the new champion (`echo-ops simulate-ab`: did acceptance rise?), score extraction
against the simulator's truth, and print what came out. Re-running is safe: every stage
replaces its day.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], env: dict[str, str], log_dir: Path, name: str) -> float:
    """Run one step, keeping its full log in a file and echoing only the verdict."""
    started = time.perf_counter()
    log = log_dir / f"{name.replace(' ', '_')}.log"
    with log.open("w") as fh:
        done = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    seconds = time.perf_counter() - started
    verdict = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    print(f"  {name:<34} {verdict:<18} {seconds:6.1f}s  log: {log.relative_to(REPO)}", flush=True)
    if done.returncode != 0:
        print("".join(log.read_text().splitlines(keepends=True)[-40:]), file=sys.stderr)
        raise SystemExit(1)
    return seconds


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-25:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-date", default="2026-11-02", help="first simulated day")
    parser.add_argument("--days", type=int, default=2, help="how many days to simulate and process")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "ECHO_SCHEDULE__RETRIES": os.environ.get("ECHO_SCHEDULE__RETRIES", "0")}
    log_dir = REPO / "data" / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    days = [date.fromisoformat(args.start_date) + timedelta(days=i) for i in range(args.days)]
    print(f"Echo demo: {len(days)} day(s) from {days[0]} on the embedded defaults", flush=True)

    echo_ops = str(bin_dir / "echo-ops")
    total = _run([echo_ops, "init"], env, log_dir, "init")
    total += _run(
        [echo_ops, "bootstrap-model", "--preset", "demo", "--if-no-champion"],
        env,
        log_dir,
        "bootstrap-model (first run only)",
    )
    # One extra day of traffic: late events of the last demo day land in its partition.
    extra = days[-1] + timedelta(days=1)
    total += _run(
        [echo_ops, "simulate", "--start-date", days[0].isoformat(), "--days", str(len(days) + 1)],
        env,
        log_dir,
        "simulate",
    )
    for day in [*days, extra]:
        total += _run(
            [str(bin_dir / "airflow"), "dags", "test", "echo_daily", day.isoformat()],
            env,
            log_dir,
            f"echo_daily {day}",
        )
    total += _run(
        [str(bin_dir / "airflow"), "dags", "test", "echo_train", days[-1].isoformat()],
        env,
        log_dir,
        "echo_train",
    )
    # Did the promotion raise acceptance? A day neither model trained on, served by each.
    ab_day = (extra + timedelta(days=1)).isoformat()
    total += _run(
        [echo_ops, "simulate-ab", "--ds", ab_day, "--users", "6", "--if-promoted"],
        env,
        log_dir,
        "simulate-ab",
    )
    print(_indent((log_dir / "simulate-ab.log").read_text()))
    for day in days:
        total += _run([echo_ops, "score", "--ds", day.isoformat()], env, log_dir, f"score {day}")
        print(_indent((log_dir / f"score_{day}.log").read_text()))
    total += _run([echo_ops, "models", "list"], env, log_dir, "models list")
    print(_indent((log_dir / "models_list.log").read_text()))
    print(f"done in {total:.0f}s; analyst snapshot: data/published/echo_analyst.duckdb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
