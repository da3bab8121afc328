"""Echo's Airflow notifier: every failure logs the `ECHO FAILURE` line, then goes out by
mail and/or webhook when `alerts` configures them (echo_ops.alerts).

`EchoNotifier` is every task's `on_failure_callback` (oncall.task_defaults) and, with
kind="late", the body of echo_daily's Deadline Alert (pipeline.echo_daily_late, run by
the triggerer). A notifier must never fail its caller: anything that goes wrong while
building or sending the alert is logged as a WARNING.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from echo_ops.alerts import Alert, deliver, one_line, runbook_url, task_log_url
from echo_ops.config import AlertSettings
from echo_ops.oncall import ADVICE, failure_summary

log = logging.getLogger("echo.oncall")


class EchoNotifier(BaseNotifier):
    """Log the failure line and send the alert (kind "failure": a task's context; kind
    "late": a Deadline Alert's context, {"dag_run": {...}, "deadline": {...}})."""

    def __init__(
        self,
        alerts: AlertSettings | None = None,
        ui_base_url: str = "http://localhost:8080",
        kind: str = "failure",
        context: dict[str, Any] | None = None,
    ):
        super().__init__(context)
        self.alerts = alerts or AlertSettings()
        self.ui_base_url = ui_base_url
        self.kind = kind

    def notify(self, context: dict[str, Any]) -> None:
        if self.kind == "late":
            try:
                self.late(context)
            except Exception as exc:  # noqa: BLE001 - never fail the triggerer's callback
                log.warning("ECHO ALERT (late) not sent: %s", one_line(exc))
            return
        runbook = runbook_url(self.alerts, self.ui_base_url, _dag_id(context))
        log.error(failure_summary(context, self.ui_base_url, runbook))
        try:
            alert = failure_alert(context, self.ui_base_url, runbook)
        except Exception as exc:  # noqa: BLE001 - the failure line above is already out
            log.warning("ECHO ALERT not built: %s", one_line(exc))
            return
        outcome = deliver(alert, self.alerts)
        if outcome:
            log.info("ECHO ALERT %s", outcome)

    async def async_notify(self, context: dict[str, Any]) -> None:
        import asyncio

        await asyncio.to_thread(self.notify, context)

    def late(self, context: dict[str, Any]) -> dict[str, str]:
        """The late alert for a run past its deadline; scheduled runs only: a backfill or a
        manual run of an old day is past its deadline from the start, and nobody waits for it."""
        run, deadline = context.get("dag_run") or {}, context.get("deadline") or {}
        dag_id = run.get("dag_id", "?")
        day = str(run.get("data_interval_start") or run.get("logical_date") or "")[:10] or None
        line = (f"ECHO LATE dag={dag_id} run={run.get('dag_run_id')} day={day} "
                f"deadline={deadline.get('deadline_time')} state={run.get('state')}")  # fmt: skip
        if run.get("run_type") not in (None, "scheduled"):
            log.info("%s: a %s run, no alert sent", line, run.get("run_type"))
            return {}
        log.error(line)
        alert = Alert(
            kind="late", dag_id=dag_id, task_id=None, day=day,
            error=f"not finished by {deadline.get('deadline_time')} (run state: {run.get('state')})",
            log_url=task_log_url(self.ui_base_url, dag_id, str(run.get("dag_run_id", ""))),
            runbook_url=runbook_url(self.alerts, self.ui_base_url, dag_id),
            advice="Open the run: a red task has its own failure alert; a run still queued or "
            "running waits on a pool slot, a worker or an earlier day (max_active_runs=1).",
        )  # fmt: skip
        return deliver(alert, self.alerts)


def failure_alert(context: dict[str, Any], ui_base_url: str, runbook: str) -> Alert:
    """The alert for a failed task, from the task's Airflow context."""
    ti = context.get("task_instance") or context.get("ti")
    task_id, dag_id = getattr(ti, "task_id", None), _dag_id(context)
    run_id = getattr(ti, "run_id", None) or context.get("run_id") or ""
    return Alert(
        kind="failure",
        dag_id=dag_id,
        task_id=task_id,
        day=_day(context),
        error=one_line(context.get("exception") or "see the task log"),
        log_url=task_log_url(
            ui_base_url,
            dag_id,
            run_id,
            task_id,
            getattr(ti, "try_number", None),
            getattr(ti, "map_index", None),
        ),  # fmt: skip
        runbook_url=runbook,
        advice=ADVICE.get(task_id or "", ""),
    )


def _dag_id(context: dict[str, Any]) -> str:
    ti = context.get("task_instance") or context.get("ti")
    return getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None) or "?"


def _day(context: dict[str, Any]) -> str | None:
    """The partition day the run processes, as echo_daily's resolve_partition decides it."""
    from echo_ops.partition import partition_date

    params = context.get("params") or {}
    try:
        return partition_date(
            context.get("logical_date"), context.get("data_interval_start"), params.get("ds")
        ).isoformat()
    except (ValueError, TypeError):
        return None
