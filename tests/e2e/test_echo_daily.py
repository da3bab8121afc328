"""The real echo_daily DAG, run with `airflow dags test` on a real metadata DB."""

from __future__ import annotations

import duckdb
import pytest

from tests.e2e.conftest import dags_test

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _state(proc) -> str:
    for line in reversed(proc.stdout.splitlines() + proc.stderr.splitlines()):
        if "DagRun Finished" in line:
            return line.split("state=")[1].split(",")[0]
    return "unknown"


def test_daily_run_succeeds_and_publishes(airflow_env, tmp_path):
    proc = dags_test(airflow_env, "echo_daily", "2026-11-02", tmp_path)
    assert proc.returncode == 0 and _state(proc) == "success", (
        proc.stdout[-3000:] + proc.stderr[-3000:]
    )
    published = tmp_path / "published" / "echo_analyst.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    schemas = {
        r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
    }
    assert {"ops", "staging", "marts"} <= schemas and "raw" not in schemas


def test_failure_names_task_and_runbook(airflow_env, tmp_path):
    # A warehouse path that is a directory cannot be opened: the run must fail loudly.
    blocker = tmp_path / "warehouse" / "echo.duckdb"
    blocker.mkdir(parents=True)
    proc = dags_test(airflow_env, "echo_daily", "2026-11-02", tmp_path)
    out = proc.stdout + proc.stderr
    assert _state(proc) == "failed"
    assert "ECHO FAILURE dag=echo_daily task=init_warehouse" in out
    assert "docs/runbook.md#echo_daily" in out
