"""echo_daily wires ingest -> align -> extract, and data errors fail without retries."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "echo_daily.py"


@pytest.fixture(scope="module")
def daily():
    spec = importlib.util.spec_from_file_location("echo_daily_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_extract_tasks_sit_between_warehouse_and_publish(daily):
    dag = daily.echo_daily()
    edges = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert edges["init_warehouse"] == ["ingest"]
    assert edges["ingest"] == ["align"]
    assert edges["align"] == ["extract"]
    assert edges["extract"] == ["publish_snapshot"]


def test_data_errors_become_fail_exceptions(daily):
    from airflow.sdk.exceptions import AirflowFailException

    from echo_ops.accounting import AccountingError
    from echo_ops.ingest import IngestError

    for error in (IngestError("bad lines"), AccountingError("books")):
        with pytest.raises(AirflowFailException, match=type(error).__name__):
            with daily._data_errors_fail():
                raise error
    with pytest.raises(OSError):  # transient faults keep their retries
        with daily._data_errors_fail():
            raise OSError("disk")
