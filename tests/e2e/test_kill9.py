"""kill -9 of a task that writes the warehouse, mid-write, then the retry: the tables equal
those of an uninterrupted run. The tasks are echo_daily's task-layer functions
(`echo_ops.pipeline`, what each Airflow task calls), each run in a process of its own as a
worker runs it; the kill lands while DuckDB's write-ahead log is open (a write under way)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date

import duckdb
import pytest

from echo_ops.config import get_settings, reset_settings_cache
from tests.e2e.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAY = "2026-11-02"
SMALL = {"ECHO_SIMULATE__USERS": "2", "ECHO_SIMULATE__SESSIONS_PER_USER": "1"}
STEPS = ("init_warehouse", "ingest", "align", "extract", "build_training_examples", "refresh_marts")
TABLES = ("raw.client_events", "raw.server_events", "staging.refinements", "training.examples",
          "marts.fct_completions", "ops.extract_accounting")  # fmt: skip
# One task per process, as a worker runs it; "start"/"done" lines mark the task's span.
RUNNER = """
import sys, time
from datetime import date
from echo_ops import pipeline
print("start", flush=True)
t = time.monotonic()
getattr(pipeline, sys.argv[1])(date.fromisoformat(sys.argv[2]))
print("done", round(time.monotonic() - t, 3), flush=True)
"""


def _env(root) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    return {**env, **SMALL, "ECHO_DATA_ROOT": str(root), "PYTHONPATH": str(REPO / "plugins")}


def _task(root, step: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNNER, step, DAY], env=_env(root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _run(root, step: str) -> float:
    proc = _task(root, step)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return float(out.split("done")[1])


def _tables(root) -> dict[str, tuple]:
    con = duckdb.connect(str(root / "warehouse" / "echo.duckdb"), read_only=True)
    got = {t: con.execute(f"select count(*), sum(hash(columns(*))) from {t}").fetchone()
           for t in TABLES}  # fmt: skip
    con.close()
    return got


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill9-sim")
    old = {k: os.environ.get(k) for k in ("ECHO_DATA_ROOT", *SMALL)}
    os.environ.update(ECHO_DATA_ROOT=str(root), **SMALL)
    reset_settings_cache()
    try:
        from echo_ops.simulate import simulate_days

        simulate_days(date.fromisoformat(DAY), 2, workers=1, settings=get_settings())
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        reset_settings_cache()
    return root / "landing"


@pytest.fixture(scope="module")
def uninterrupted(landing, tmp_path_factory) -> dict[str, tuple]:
    clean = tmp_path_factory.mktemp("kill9-clean")
    shutil.copytree(landing, clean / "landing")
    for step in STEPS:
        _run(clean, step)
    return _tables(clean)


@pytest.mark.parametrize("victim", ["ingest", "extract"])
def test_kill_9_mid_write_then_retry_gives_the_uninterrupted_tables(
    landing, uninterrupted, tmp_path, victim
):
    faulted = tmp_path / "faulted"
    shutil.copytree(landing, faulted / "landing")

    wal = faulted / "warehouse" / "echo.duckdb.wal"
    for step in STEPS:
        if step != victim:
            _run(faulted, step)
            continue
        assert not wal.exists()  # the steps before closed cleanly: a WAL now is this task's
        proc = _task(faulted, step)
        assert proc.stdout.readline().startswith("start")
        deadline = time.monotonic() + 120
        while not wal.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "the task finished before the kill"
        assert wal.exists(), "killed outside a write"
        _run(faulted, step)  # the retry: the same task, the same day

    assert _tables(faulted) == uninterrupted
