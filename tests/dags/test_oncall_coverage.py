"""Every task on-call can see red has advice in the log line and a row in the runbook."""

from __future__ import annotations

from pathlib import Path

import pytest

from echo_ops.oncall import ADVICE, failure_summary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tasks():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    return {(dag_id, t) for dag_id, dag in bag.dags.items() for t in dag.task_ids}


def test_every_task_has_advice_and_a_runbook_row(tasks):
    runbook = (REPO / "docs" / "runbook.md").read_text()
    missing_advice = sorted(t for _, t in tasks if t not in ADVICE)
    missing_rows = sorted(t for _, t in tasks if t not in runbook)
    assert not missing_advice and not missing_rows, (missing_advice, missing_rows)


def test_failure_summary_names_dag_task_error_and_runbook_anchor():
    class TI:
        task_id, dag_id = "ingest", "echo_daily"

    text = failure_summary({"ti": TI(), "exception": ValueError("3 bad lines")})
    assert text.startswith(
        "ECHO FAILURE dag=echo_daily task=ingest error=ValueError('3 bad lines')"
    )
    assert ADVICE["ingest"] in text and "docs/runbook.md#echo_daily" in text
    assert "data docs" not in text and "report:" not in text  # no UI address given


def test_a_failed_check_links_its_data_docs_and_the_report_in_the_ui():
    class TI:
        task_id, dag_id = "validate_marts", "echo_daily"

    text = failure_summary({"ti": TI(), "exception": None}, "https://airflow.example.com/")
    assert "  data docs: https://airflow.example.com/echo/data-docs/index.html" in text
    assert text.endswith("  report: https://airflow.example.com/echo/report")


def test_the_deadline_alert_is_wired_only_when_configured(monkeypatch):
    from datetime import timedelta

    from airflow.dag_processing.dagbag import DagBag

    from echo_ops.config import reset_settings_cache

    def daily():
        reset_settings_cache()
        bag = DagBag(dag_folder=str(REPO / "dags" / "echo_daily.py"))
        assert bag.import_errors == {}
        return bag.dags["echo_daily"]

    assert not daily().deadline  # off by default (apache/airflow#73428 breaks `dags test`)
    monkeypatch.setenv("ECHO_ALERTS__DAILY_DEADLINE_HOUR", "6")
    (alert,) = daily().deadline
    assert alert.interval == timedelta(days=1, hours=6)
    assert type(alert.reference).__name__ == "DagRunLogicalDateDeadline"
    assert alert.callback.path == "echo_ops.pipeline.echo_daily_late"


def test_every_task_gets_the_notifier_and_the_overrides_param():
    from airflow.dag_processing.dagbag import DagBag

    from echo_ops.notifier import EchoNotifier

    bag = DagBag(dag_folder=str(REPO / "dags"))
    for dag in bag.dags.values():
        assert "overrides" in dag.params, dag.dag_id
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(isinstance(c, EchoNotifier) for c in callbacks), task.task_id


def test_alert_secrets_never_reach_the_serialized_dags(monkeypatch):
    """The serialized DAG is in the metadata DB and the UI: the webhook and mail password
    stay in the workers' environment."""
    import json

    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    from echo_ops.config import reset_settings_cache

    monkeypatch.setenv("ECHO_ALERTS__WEBHOOK_URL", "https://hooks.example.com/T0/SECRET-HOOK")
    monkeypatch.setenv("ECHO_ALERTS__SMTP_PASSWORD", "SECRET-PW")
    reset_settings_cache()
    for dag in DagBag(dag_folder=str(REPO / "dags")).dags.values():
        text = json.dumps(DagSerialization.serialize_dag(dag), default=str)
        assert "SECRET-HOOK" not in text and "SECRET-PW" not in text, dag.dag_id
