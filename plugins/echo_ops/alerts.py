"""Alerts that reach people: one message, sent by SMTP and/or a Slack-compatible webhook.

`echo_ops.notifier` (Airflow's notifier interface) builds an `Alert` from a failed task or a
late run and calls `deliver`. Sending never raises: on-call must still get the task's own
failure, so a dead mail server or webhook costs at most `alerts.timeout_s` per channel and
one WARNING line. With nothing configured (the default) nothing is sent: the `ECHO FAILURE`
line in the task log is the alert. No Airflow import here.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from urllib.parse import quote

from echo_ops.config import AlertSettings

log = logging.getLogger("echo.alerts")
RUNBOOK_PATH = "/echo/runbook"  # the runbook page of the `echo` plugin (echo_ops.ui)


@dataclass(frozen=True)
class Alert:
    """What on-call needs in one message: what broke, for which day, where to look."""

    kind: str  # "failure" | "late"
    dag_id: str
    task_id: str | None
    day: str | None  # the partition day the run processes (YYYY-MM-DD)
    error: str  # one line
    log_url: str
    runbook_url: str
    advice: str = ""

    @property
    def subject(self) -> str:
        what = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        verb = "failed" if self.kind == "failure" else "is late"
        return f"[echo] {what} {verb} for {self.day or '?'}"

    @property
    def text(self) -> str:
        lines = [self.subject, f"error: {self.error}"]
        if self.advice:
            lines.append(f"what to do: {self.advice}")
        return "\n".join([*lines, f"log: {self.log_url}", f"runbook: {self.runbook_url}"])


def one_line(error: object, limit: int = 300) -> str:
    """An exception (or text) as one line: its type and the first line of its message."""
    if isinstance(error, BaseException):
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    else:
        text = (str(error).strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def runbook_url(settings: AlertSettings, ui_base_url: str, anchor: str) -> str:
    """An absolute, clickable link to a runbook section (`anchor`: echo_daily, echo_train)."""
    base = settings.runbook_base_url or ui_base_url.rstrip("/") + RUNBOOK_PATH
    return f"{base.split('#')[0]}#{anchor}"


def task_log_url(ui_base_url: str, dag_id: str, run_id: str, task_id: str | None = None,
                 try_number: int | None = None, map_index: int | None = None) -> str:  # fmt: skip
    """The Airflow UI page of a run (or of one task try's log): Airflow 3's own URL layout."""
    url = f"{ui_base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"
    if task_id is None:
        return url
    url += f"/tasks/{quote(task_id)}"
    if map_index is not None and map_index >= 0:
        url += f"/mapped/{map_index}"
    return url + (f"?try_number={try_number}" if try_number else "")


def deliver(alert: Alert, settings: AlertSettings) -> dict[str, str]:
    """Send the alert on every configured channel; {channel: "sent" | "failed: ..."}.
    Never raises: a channel that fails logs one WARNING and the others still go."""
    senders = []
    if settings.smtp_host and settings.smtp_to:
        senders.append(("smtp", send_mail))
    if settings.webhook_url.get_secret_value():
        senders.append(("webhook", send_webhook))
    outcome: dict[str, str] = {}
    for channel, send in senders:
        try:
            send(alert, settings)
            outcome[channel] = "sent"
        except Exception as exc:  # noqa: BLE001 - an alert channel must never fail the caller
            outcome[channel] = f"failed: {one_line(exc)}"
            log.warning("ECHO ALERT not sent by %s (%s): %s", channel, alert.subject, one_line(exc))
    return outcome


def send_mail(alert: Alert, settings: AlertSettings) -> None:
    msg = EmailMessage()
    msg["Subject"], msg["From"] = alert.subject, settings.smtp_from
    msg["To"] = ", ".join(settings.smtp_to)
    msg.set_content(alert.text)
    smtp_class = smtplib.SMTP_SSL if settings.smtp_ssl else smtplib.SMTP
    with smtp_class(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(msg)


def send_webhook(alert: Alert, settings: AlertSettings) -> None:
    """POST JSON with a `text` field (what Slack, Mattermost and Teams' Slack-compatible
    hooks read), plus the fields as data for hooks that route on them."""
    body = json.dumps({"text": alert.text, **asdict(alert)}).encode()
    request = urllib.request.Request(
        settings.webhook_url.get_secret_value(),
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
        if response.status >= 300:
            raise OSError(f"webhook answered HTTP {response.status}")
