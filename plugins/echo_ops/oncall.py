"""What on-call sees when a task fails: what broke, where to look, what to do.

Airflow calls the `EchoNotifier` (echo_ops.notifier) that `task_defaults` sets as every
task's failure callback; it logs `failure_summary` and sends the alert. This module
imports Airflow only inside functions, so it stays testable. The advice per task mirrors
docs/runbook.md.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

RUNBOOK = "docs/runbook.md"

ADVICE: dict[str, str] = {
    "resolve_partition": "The run could not tell which day to process: check the `ds` Param.",
    "init_warehouse": "The DuckDB file could not be opened for writing: another writer holds it "
    "(check the echo_duckdb pool and stray processes) or the disk is full.",
    "import_assistant_logs": "Importing Continue/Tabby logs failed: an ImportInputError names the "
    "file; refused lines are in ops.quarantine where stage='import' (file, line, reason) and never "
    "fail the task. Set imports.sources=[] to skip imports while you fix it (docs/imports.md).",
    "ingest": "Ingest failed: an IngestError lists bad lines per reason with 3 examples (see "
    "ops.quarantine where stage='ingest'); fix or re-deliver the landing objects, then clear the "
    "task. An S3/IO error is transient (retried).",
    "align": "Align failed: usually a lookback day could not be ingested (see its ingest error) "
    "or the warehouse is locked by another writer.",
    "plan_extract": "Planning the extract shards failed: `never aligned` means align did not run "
    "for the day (clear from align); otherwise the warehouse is locked by a writer outside the "
    "echo_duckdb pool or the disk under data_root/extract-shards is full. Safe to clear.",
    "extract_shard": "A shard's walk failed: the log names the shard and its walk worker's last "
    "lines. A missing input Parquet means this worker does not see the plan's data root (every "
    "worker must mount the same one, docs/scale.md); clear from plan_extract if the plan is gone.",
    "merge_extract": "Extract failed: an AccountingError means shown != extracted + deferred + "
    "quarantined for the day (see ops.extract_accounting); that is a bug, not bad data; file it "
    "with the day. ShardOutputMissing: re-run that extract_shard. Deferred completions are "
    "normal and are picked up by later runs.",
    "online_guard": "The A/B comparison failed (marts.rpt_arm_user_daily) or the rollback it "
    "decided could not switch the champion: the task log names the champion, both arms' counts "
    "and the registry error; `echo-ops models list` shows who is champion now.",
    "refresh_marts": "A mart's SQL failed on the day's refinements: the error names the file under "
    "include/sql/marts/; a missing column means staging.refinements changed (docs/contracts.md).",
    "publish_snapshot": "The analyst copy could not be written: check free disk at the published path.",
    "build_training_examples": "TrainingDataError: staging.refinements breaks docs/contracts.md "
    "(a renamed or missing column: check the extract deploy); otherwise a shared safety/dedup "
    "function failed. Rerun with `echo-ops build-trainset --ds DAY`.",
    "check_new_data": "Could not read training.examples or registry.models: check the warehouse "
    "file and the echo_duckdb pool.",
    "fine_tune": "NoChampionError: run `echo-ops bootstrap-model` (or `models register DIR`). "
    "Out of memory: lower train.batch_size / raise train.grad_accum, or set train.lora=true. "
    "A crash resumes from the last checkpoint on retry (`echo-ops train --resume` by hand).",
    "register_candidate": "Adding the staged candidate to registry.models failed: WarehouseLocked "
    "(a writer outside the echo_duckdb pool holds the file: retried by itself), or no "
    "registration.json beside its artifacts (the fine_tune did not finish: clear fine_tune).",
    "evaluate_candidate": "EvalDataError: no held-out examples yet (training.examples split=eval); "
    "wait for more days or raise train.eval_share. The candidate stays `candidate`.",
    "promote_or_reject": "The candidate has no eval metrics (rerun evaluate_candidate). A bad "
    "promotion is undone with `echo-ops models rollback --reason ...`.",
    # data quality: the error lists the failed checks, sample rows and the Data Docs path
    "validate_raw_client": "A blocking check failed on raw.client_events: read the failed check names "
    "and sample rows in the log, open the Data Docs path it prints, and query ops.dq_results for the "
    "run_id. Duplicates or nulls usually mean an ingest bug; ts_within_partition means client clocks "
    "or a wrong landing partition. Fix the data or the stage, then clear the task (it never retries).",
    "validate_raw_server": "A blocking check failed on raw.server_events: see the failed checks and "
    "sample rows in the log; a missing model_version or duplicate request_id points at the model "
    "server's log format. Data Docs path and ops.dq_results run_id are in the log.",
    "validate_aligned": "A blocking check failed on the aligned completions: duplicate completion_id or "
    "null request_id means alignment joined wrongly; compare with the raw suites' results for the day.",
    "validate_refinements": "A blocking check failed on staging.refinements: a value outside its set "
    "or a negative edit distance is an extraction bug; warnings (drift, volume) do not fail the run.",
    "validate_training_set": "The training set is unsafe or leaky: no_secrets_in_text (redaction "
    "missed a credential: add a rule in echo_ops/safety.py), no_opted_out_users (consent filter not "
    "applied), no_file_on_both_sides (split not grouped by file). Nothing was published; fix and clear.",
    "validate_marts": "The marts are not fit to publish, so analysts keep the previous copy: "
    "books_balance (a stage's counts do not add up: see the merge_extract task's accounting), "
    "no_day_missing (an earlier day was never processed: run echo_daily for it, e.g. a backfill), "
    "acceptance_rate_in_range (a mart bug). Fix, then clear this task; the guard and publish follow.",
}


def task_defaults(settings, owner: str) -> dict[str, Any]:
    """The default_args every Echo DAG shares: retries for transient faults, the warehouse
    writers' pool, and the notifier that logs the failure line and sends the alert."""
    from echo_ops.notifier import EchoNotifier

    return {
        "owner": owner,
        "retries": settings.schedule.retries,
        "retry_delay": timedelta(seconds=settings.schedule.retry_delay_s),
        "pool": settings.schedule.duckdb_pool,
        "on_failure_callback": EchoNotifier(settings.alerts, settings.schedule.ui_base_url),
    }


def overrides_param():
    """The `overrides` Param of a manual run: dotted settings -> values for that run only,
    e.g. {"extract.max_quarantine_rate": 0.05}; the trigger form rejects a key that names no
    overridable setting (config.overridable_keys), the tasks check the values' types."""
    from airflow.sdk import Param

    from echo_ops.config import overridable_keys

    return Param(
        {},
        type="object",
        propertyNames={"enum": overridable_keys()},
        description='Settings for this run only, as {"group.field": value} '
        '(e.g. {"extract.max_quarantine_rate": 0.05}); see `echo-ops config` for the keys',
    )


def daily_deadline(settings, callback):
    """echo_daily's Deadline Alert: not finished by `alerts.daily_deadline_hour` (UTC) of the
    day after its data interval -> `callback` (pipeline.echo_daily_late, in the triggerer).
    On the daily data-interval timetable a run's logical date is its interval's start, so the
    deadline is logical date + 1 day + that hour. None when the hour is None."""
    hour = settings.alerts.daily_deadline_hour
    if hour is None:
        return None
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(days=1, hours=hour),
        callback=AsyncCallback(callback),
        name="echo_daily late",
    )


def fail_fast(fn, *args, **kwargs):
    """Run one task-layer function; a DataError fails the task at once (AirflowFailException:
    no retries, the same input fails the same way). Anything else stays retryable.

    Inside a DAG run whose `overrides` Param is set, `fn` gets the settings with those
    overrides on top (config.with_overrides), and the task log says which."""
    from echo_ops.errors import DataError

    try:
        overrides = run_overrides()
        if overrides:
            from echo_ops.config import with_overrides

            kwargs["settings"] = with_overrides(overrides)
            logging.getLogger("echo.oncall").warning(
                "ECHO OVERRIDES for this run only: %s",
                json.dumps(overrides, sort_keys=True, default=str),
            )
        return fn(*args, **kwargs)
    except DataError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def run_overrides() -> dict[str, Any]:
    """The running DAG run's `overrides` Param ({} outside a task, or when unset)."""
    try:
        from airflow.sdk import get_current_context

        params = get_current_context().get("params") or {}
    except Exception:  # noqa: BLE001 - no task context: the CLI, a test
        return {}
    return dict(params.get("overrides") or {})


def failure_summary(
    context: dict[str, Any], ui_base_url: str | None = None, runbook: str | None = None
) -> str:
    """The failure line and what to do; the runbook section (an absolute URL when given);
    with the Airflow UI's address, links to the report and, for a failed check, the Data
    Docs page of its results (the `echo` plugin)."""
    ti = context.get("task_instance") or context.get("ti")
    task_id = getattr(ti, "task_id", "?")
    dag_id = getattr(ti, "dag_id", "?")
    exc = context.get("exception")
    advice = ADVICE.get(task_id, "See the task log above for the first error.")
    text = (
        f"ECHO FAILURE dag={dag_id} task={task_id} error={exc!r}\n"
        f"  what to do: {advice}\n"
        f"  runbook: {f'{runbook} ({RUNBOOK}#{dag_id})' if runbook else f'{RUNBOOK}#{dag_id}'}"
    )
    if ui_base_url:
        base = ui_base_url.rstrip("/")
        if task_id.startswith("validate_"):
            text += f"\n  data docs: {base}/echo/data-docs/index.html"
        text += f"\n  report: {base}/echo/report"
    return text
