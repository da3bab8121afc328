"""A real Airflow metadata DB (SQLite, migrated) in a temp AIRFLOW_HOME, per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECHO_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONPATH=str(REPO / "plugins"),
        ECHO_SCHEDULE__RETRIES="0",
    )
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    for pool, slots in (("echo_duckdb", "1"), ("echo_gpu", "1"), ("echo_extract", "4")):
        subprocess.run(
            [AIRFLOW, "pools", "set", pool, slots, "test"], env=env, check=True, capture_output=True
        )
    return env


def dags_test(
    env: dict[str, str],
    dag_id: str,
    day: str,
    data_root: Path,
    conf: dict | None = None,
    mark_success: str | None = None,
    timeout: int = 900,
    **extra: str,
):
    """`airflow dags test DAG DAY [--conf JSON] [--mark-success-pattern RE]` against the
    session's metadata DB; returns the process."""
    run_env = {**env, "ECHO_DATA_ROOT": str(data_root), **extra}
    options = ["--conf", json.dumps(conf)] if conf else []
    options += ["--mark-success-pattern", mark_success] if mark_success else []
    return subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, day, *options],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
