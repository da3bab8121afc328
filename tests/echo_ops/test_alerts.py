"""The failure notifier against real receivers on loopback: an SMTP server and a webhook.
A dead endpoint never fails the callback; with nothing configured only the log line goes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from echo_ops.alerts import one_line, runbook_url
from echo_ops.config import AlertSettings
from echo_ops.notifier import EchoNotifier
from echo_ops.oncall import ADVICE
from tests.alertkit import dead_port

UI = "https://airflow.example.com/"
RUNBOOK = "https://git.example.com/echo/blob/main/docs/runbook.md"


def _context(exc: BaseException) -> dict:
    """A failed task's context, with the keys and shapes Airflow 3's task runner passes."""
    ti = SimpleNamespace(task_id="ingest", dag_id="echo_daily", try_number=2, map_index=-1,
                         run_id="scheduled__2026-11-24T00:00:00+00:00")  # fmt: skip
    start = datetime(2026, 11, 24, tzinfo=UTC)
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id, "logical_date": start,
            "data_interval_start": start, "params": {"ds": None, "overrides": {}},
            "exception": exc}  # fmt: skip


def _alerts(smtp, hook, **extra) -> AlertSettings:
    return AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_to=["oncall@example.com"],
                         webhook_url=hook.url, runbook_base_url=RUNBOOK, timeout_s=5, **extra)  # fmt: skip


def test_a_failure_reaches_mail_and_webhook_with_everything_on_call_needs(receivers, caplog):
    smtp, hook = receivers
    smtp.mails.clear(), hook.posts.clear()
    error = ValueError("12 bad lines of 100 (12.0%) exceed extract.max_quarantine_rate\nmore")
    with caplog.at_level(logging.INFO, logger="echo.oncall"):
        EchoNotifier(_alerts(smtp, hook), UI)(_context(error))  # as Airflow calls a callback

    log_url = (f"{UI}dags/echo_daily/runs/scheduled__2026-11-24T00%3A00%3A00%2B00%3A00"
               "/tasks/ingest?try_number=2")  # fmt: skip
    (post,) = hook.posts
    assert post["type"] == "application/json"
    body = post["json"]
    assert (body["dag_id"], body["task_id"], body["day"]) == ("echo_daily", "ingest", "2026-11-24")
    assert (
        body["error"]
        == "ValueError: 12 bad lines of 100 (12.0%) exceed extract.max_quarantine_rate"
    )
    assert body["log_url"] == log_url and body["runbook_url"] == f"{RUNBOOK}#echo_daily"
    for part in ("echo_daily.ingest failed for 2026-11-24", body["error"], log_url,
                 f"{RUNBOOK}#echo_daily", ADVICE["ingest"]):  # fmt: skip
        assert part in body["text"]
    (sender, rcpts, mail) = smtp.mails[0]
    assert rcpts == ["oncall@example.com"] and "echo-alerts@localhost" in sender
    assert mail["Subject"] == "[echo] echo_daily.ingest failed for 2026-11-24"
    assert mail.get_payload(decode=True).decode().replace("\r\n", "\n").strip() == body["text"]
    # the task log still has the failure line, now with a clickable runbook link
    line = next(r.getMessage() for r in caplog.records if "ECHO FAILURE" in r.getMessage())
    assert line.startswith("ECHO FAILURE dag=echo_daily task=ingest error=ValueError(")
    assert f"runbook: {RUNBOOK}#echo_daily" in line
    assert "ECHO ALERT {'smtp': 'sent', 'webhook': 'sent'}" in caplog.text


def test_dead_endpoints_do_not_raise_and_say_so(caplog):
    dead = dead_port()
    alerts = AlertSettings(smtp_host="127.0.0.1", smtp_port=dead, smtp_to=["x@example.com"],
                           webhook_url=f"http://127.0.0.1:{dead}/hook", timeout_s=2)  # fmt: skip
    with caplog.at_level(logging.INFO):
        EchoNotifier(alerts, UI)(_context(RuntimeError("disk full")))  # no exception
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("ECHO ALERT not sent by smtp") for w in warnings), warnings
    assert any(w.startswith("ECHO ALERT not sent by webhook") for w in warnings), warnings
    assert any("ECHO FAILURE" in r.getMessage() for r in caplog.records)


def test_a_webhook_that_answers_an_error_is_a_warning_too(receivers, caplog):
    smtp, hook = receivers
    alerts = _alerts(smtp, hook).model_copy(update={"smtp_host": None})
    alerts.webhook_url = type(alerts.webhook_url)(
        hook.url.replace("127.0.0.1", "localhost.invalid")
    )
    with caplog.at_level(logging.WARNING):
        EchoNotifier(alerts, UI)(_context(RuntimeError("x")))
    assert "ECHO ALERT not sent by webhook" in caplog.text


def test_nothing_configured_logs_the_line_and_sends_nothing(receivers, caplog):
    smtp, hook = receivers
    smtp.mails.clear(), hook.posts.clear()
    with caplog.at_level(logging.INFO):
        EchoNotifier()(_context(RuntimeError("x")))
    assert "ECHO FAILURE dag=echo_daily task=ingest" in caplog.text
    assert "http://localhost:8080/echo/runbook#echo_daily" in caplog.text  # clickable default
    assert smtp.mails == [] and hook.posts == [] and "ECHO ALERT" not in caplog.text


def test_late_alert_for_a_scheduled_run_only(receivers, caplog):
    """The Deadline Alert's context as Airflow's scheduler builds it (Deadline.handle_miss)."""
    smtp, hook = receivers
    smtp.mails.clear(), hook.posts.clear()
    run = {"dag_id": "echo_daily", "dag_run_id": "scheduled__2026-11-24T00:00:00+00:00",
           "run_type": "scheduled", "state": "running",
           "data_interval_start": "2026-11-24T00:00:00Z", "logical_date": "2026-11-24T00:00:00Z"}  # fmt: skip
    context = {
        "dag_run": run,
        "deadline": {"id": "x", "deadline_time": "2026-11-25 06:00:00+00:00"},
    }
    notifier = EchoNotifier(_alerts(smtp, hook), UI, kind="late")
    with caplog.at_level(logging.INFO):
        notifier(context)
        notifier({**context, "dag_run": {**run, "run_type": "backfill"}})
    (post,) = hook.posts  # the backfill's run was past its deadline from the start: no page
    body = post["json"]
    assert body["kind"] == "late" and body["day"] == "2026-11-24" and body["task_id"] is None
    assert "[echo] echo_daily is late for 2026-11-24" in body["text"]
    assert "not finished by 2026-11-25 06:00:00+00:00" in body["error"]
    assert body["log_url"].endswith(
        "/dags/echo_daily/runs/scheduled__2026-11-24T00%3A00%3A00%2B00%3A00"
    )
    assert len(smtp.mails) == 1 and "a backfill run, no alert sent" in caplog.text


def test_one_line_and_runbook_url():
    assert one_line(KeyError("k")) == "KeyError: 'k'"
    assert one_line(RuntimeError("")) == "RuntimeError"
    assert len(one_line("x" * 1000)) == 300
    base = AlertSettings()
    assert (
        runbook_url(base, "http://ui:8080/", "echo_train")
        == "http://ui:8080/echo/runbook#echo_train"
    )
    custom = AlertSettings(runbook_base_url="https://wiki/runbook#old")
    assert runbook_url(custom, "http://ui", "echo_daily") == "https://wiki/runbook#echo_daily"


def test_the_default_runbook_link_lands_on_a_section_the_ui_serves(settings):
    """`{ui}/echo/runbook#echo_daily`: the page the `echo` plugin serves has that anchor."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from echo_ops.ui import create_app

    app = create_app(settings)
    app.dependency_overrides[get_user] = lambda: None  # Airflow's login, tested in e2e
    page = TestClient(app).get("/runbook")
    assert page.status_code == 200
    for anchor in ("echo_daily", "echo_train", "alerts"):
        assert f'id="{anchor}"' in page.text, anchor
    assert "<table>" in page.text and "register_candidate" in page.text
