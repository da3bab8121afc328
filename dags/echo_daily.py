"""
# echo_daily

Turns one day of editor telemetry and model-server logs into refinement data.

For the day `ds` (the data interval's start; a manual run may pass the `ds` Param):
import assistants' own logs (Continue, Tabby; off unless `imports.sources` names them) ->
ingest -> validate raw -> align -> validate -> extract refinements -> validate ->
build training examples -> validate (updates the training-set Asset) -> marts -> snapshot.
Every write replaces that day's partition, so re-runs and backfills are safe.
Data errors (bad input, failed blocking checks) fail at once, without retries.

On failure: read the `ECHO FAILURE` line in the task log, then `docs/runbook.md#echo_daily`.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, chain, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from echo_ops import pipeline
from echo_ops.config import TRAINING_SET_ASSET, get_settings
from echo_ops.oncall import on_task_failure

settings = get_settings()
training_set = Asset(name=TRAINING_SET_ASSET)


@contextmanager
def data_errors_fail():
    """Turn our deterministic data errors into AirflowFailException: no retries."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except pipeline.data_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


@dag(
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime.combine(settings.schedule.start_date, datetime.min.time()),
    catchup=True,
    max_active_runs=1,
    tags=["echo", "daily"],
    params={
        "ds": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Day to process (YYYY-MM-DD); empty = the data interval's day",
        )
    },
    default_args={
        "owner": "echo-data",
        "retries": settings.schedule.retries,
        "retry_delay": timedelta(seconds=settings.schedule.retry_delay_s),
        "pool": settings.schedule.duckdb_pool,
        "on_failure_callback": on_task_failure,
    },
    doc_md=__doc__,
)
def echo_daily():
    @task(task_display_name="Resolve partition day")
    def resolve_partition() -> str:
        """Decide which landing partition (`ds=YYYY-MM-DD`) this run processes."""
        from echo_ops.partition import partition_date

        ctx = get_current_context()
        day = partition_date(
            ctx.get("logical_date"), ctx.get("data_interval_start"), ctx["params"].get("ds")
        )
        return day.isoformat()

    @task(task_display_name="Prepare warehouse")
    def init_warehouse(day: str) -> dict:
        """Create the warehouse file, its layers and ops tables if missing."""
        return pipeline.init_warehouse(day)

    @task(task_display_name="Import Continue / Tabby logs")
    def import_assistant_logs(day: str) -> dict:
        """Convert new files under the landing zone's continue/ and tabby/ into v1 events in
        the day partitions they belong to (docs/imports.md); a file is converted once."""
        with data_errors_fail():
            return pipeline.import_assistant_logs(day)

    @task(task_display_name="Ingest landing day")
    def ingest(day: str) -> dict:
        """Load the day's client and server events into raw tables; bad lines go to
        ops.quarantine, every object to ops.manifest. Too many bad lines fails the task."""
        with data_errors_fail():
            return pipeline.ingest(day)

    @task(task_display_name="Validate raw client events")
    def validate_raw_client(day: str) -> dict:
        """Checks raw.client_events (keys, nulls, types, timestamps, volume, drift)."""
        with data_errors_fail():
            return pipeline.validate("raw_client", day)

    @task(task_display_name="Validate raw server events")
    def validate_raw_server(day: str) -> dict:
        """Checks raw.server_events for the day."""
        with data_errors_fail():
            return pipeline.validate("raw_server", day)

    @task(task_display_name="Align completions with server requests")
    def align(day: str) -> dict:
        """Join each shown completion with the exact prompt the server saw (lookback window)."""
        with data_errors_fail():
            return pipeline.align(day)

    @task(task_display_name="Validate aligned completions")
    def validate_aligned(day: str) -> dict:
        """Checks staging.int_completions_aligned_to_events for the day."""
        with data_errors_fail():
            return pipeline.validate("aligned", day)

    @task(task_display_name="Extract refinements")
    def extract(day: str) -> dict:
        """Follow each completion to its settled text (staging.refinements); defer what the
        data does not cover yet; fail when shown != extracted + deferred + quarantined."""
        with data_errors_fail():
            return pipeline.extract(day)

    @task(task_display_name="Validate refinements")
    def validate_refinements(day: str) -> dict:
        """Checks staging.refinements (outcomes, edit distances, lengths, acceptance drift)."""
        with data_errors_fail():
            return pipeline.validate("refinements", day)

    @task(task_display_name="Build training examples")
    def build_training_examples(day: str) -> dict:
        """The day's refinements -> training.examples (weights, replay, lineage, consent,
        secrets redacted, deduplicated, grouped split) and training.preference_pairs."""
        with data_errors_fail():
            return pipeline.build_training_examples(day)

    @task(task_display_name="Validate training set", outlets=[training_set])
    def validate_training_set(day: str) -> dict:
        """Checks training.examples (no secrets, no opted-out users, no file on both sides);
        only a valid set updates the Asset that schedules echo_train."""
        with data_errors_fail():
            return pipeline.validate("training_set", day)

    @task(task_display_name="Refresh marts")
    def refresh_marts(day: str) -> dict:
        """Rebuild the day in marts.fct_completions and marts.rpt_daily_acceptance."""
        return pipeline.refresh_marts(day)

    @task(task_display_name="Publish analyst snapshot")
    def publish_snapshot(day: str) -> dict:
        """Copy the warehouse to the read-only analyst file, swapped in atomically."""
        return pipeline.publish_snapshot(day)

    day = resolve_partition()
    chain(
        init_warehouse(day),
        import_assistant_logs(day),
        ingest(day),
        [validate_raw_client(day), validate_raw_server(day)],
        align(day),
        validate_aligned(day),
        extract(day),
        validate_refinements(day),
        build_training_examples(day),
        validate_training_set(day),
        refresh_marts(day),
        publish_snapshot(day),
    )


echo_daily()
