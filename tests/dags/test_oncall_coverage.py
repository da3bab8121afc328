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
