"""The quality tasks exist in echo_daily and turn a blocking data error into a no-retry failure."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
VALIDATE = {
    "validate_raw_client",
    "validate_raw_server",
    "validate_aligned",
    "validate_refinements",
    "validate_training_set",
    "validate_marts",
}


def _load_daily():
    spec = importlib.util.spec_from_file_location("echo_daily_under_test", DAGS / "echo_daily.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_hop_has_a_validate_task_with_oncall_advice():
    from echo_ops.oncall import ADVICE

    dag = _load_daily().echo_daily()
    assert VALIDATE <= set(dag.task_ids)
    assert VALIDATE <= set(ADVICE)


def test_blocking_failure_becomes_airflow_fail_exception(settings):
    from airflow.sdk.exceptions import AirflowFailException

    from echo_ops import pipeline
    from echo_ops.oncall import fail_fast

    with pytest.raises(AirflowFailException, match="table_exists"):
        fail_fast(pipeline.validate, "raw_server", date(2026, 11, 20))


def test_a_transient_error_stays_retryable():
    from echo_ops.oncall import fail_fast

    def locked(ds):
        raise OSError(f"the warehouse file is locked by another writer ({ds})")

    with pytest.raises(OSError, match="locked"):
        fail_fast(locked, date(2026, 11, 20))
