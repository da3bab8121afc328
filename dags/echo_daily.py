"""
# echo_daily

Turns one day of editor telemetry and model-server logs into refinement data.

For the day `ds` (the data interval's start; a manual run may pass the `ds` Param):
land -> raw -> aligned -> refinements -> training examples -> marts -> analyst snapshot.
Every write replaces that day's partition, so re-runs and backfills are safe.

On failure: read the `ECHO FAILURE` line in the task log, then `docs/runbook.md#echo_daily`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from echo_ops.config import TRAINING_SET_ASSET, get_settings
from echo_ops.oncall import on_task_failure

settings = get_settings()
training_set = Asset(name=TRAINING_SET_ASSET)


def _validate(suite: str, day: str) -> dict:
    """Run one quality suite; a blocking failure is a data error, so it fails without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from echo_ops.quality import DataQualityError, validate_day

    try:
        return validate_day(suite, day)
    except DataQualityError as exc:
        raise AirflowFailException(str(exc)) from exc


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
        from echo_ops.warehouse import LAYERS, open_warehouse

        with open_warehouse():
            return {"day": day, "layers": len(LAYERS)}

    @task(task_display_name="Build training examples", outlets=[training_set])
    def build_training_examples(prepared: dict) -> dict:
        """The day's refinements -> training.examples (weights, replay, lineage, consent) and
        training.preference_pairs; updates the training-set Asset that schedules echo_train."""
        from airflow.sdk.exceptions import AirflowFailException

        from echo_ops.datasets import TrainingDataError, build_training_examples
        from echo_ops.warehouse import open_warehouse

        day = prepared["day"]
        try:
            with open_warehouse() as con:
                return {"day": day, **build_training_examples(con, date.fromisoformat(day))}
        except TrainingDataError as exc:
            raise AirflowFailException(f"TrainingDataError: {exc}") from exc

    @task(task_display_name="Publish analyst snapshot")
    def publish_snapshot(prepared: dict) -> dict:
        """Copy the warehouse to the read-only analyst file, swapped in atomically."""
        from echo_ops.warehouse import open_warehouse, publish_snapshot

        with open_warehouse() as con:
            tables = publish_snapshot(con, settings.storage.published_path)
        return {"day": prepared["day"], "tables": len(tables)}

    # --- data quality (issue #5): one validate task per hop ------------------------------
    # Where they go in the chain (the lead wires the final one):
    #   ingest_client >> validate_raw_client, ingest_server >> validate_raw_server,
    #   both >> align >> validate_aligned >> extract >> validate_refinements
    #   >> build_training_set >> validate_training_set >> publish_snapshot.
    @task(task_display_name="Validate raw client events")
    def validate_raw_client(day: str) -> dict:
        """Checks raw.client_events for the day (keys, nulls, types, timestamps, volume, drift)."""
        return _validate("raw_client", day)

    @task(task_display_name="Validate raw server events")
    def validate_raw_server(day: str) -> dict:
        """Checks raw.server_events for the day."""
        return _validate("raw_server", day)

    @task(task_display_name="Validate aligned completions")
    def validate_aligned(day: str) -> dict:
        """Checks staging.int_completions_aligned_to_events for the day."""
        return _validate("aligned", day)

    @task(task_display_name="Validate refinements")
    def validate_refinements(day: str) -> dict:
        """Checks staging.refinements (outcomes, edit distances, lengths, acceptance drift)."""
        return _validate("refinements", day)

    @task(task_display_name="Validate training set")
    def validate_training_set(day: str) -> dict:
        """Checks training.examples: no secrets, no opted-out users, no file on both sides."""
        return _validate("training_set", day)

    # --- end data quality ------------------------------------------------------------------

    day = resolve_partition()
    prepared = init_warehouse(day)
    built = build_training_examples(prepared)
    publish_snapshot(built)
    # Data quality (issue #5): provisional wiring, after the warehouse exists; see above.
    for validate in (
        validate_raw_client,
        validate_raw_server,
        validate_aligned,
        validate_refinements,
    ):
        prepared >> validate(day)
    built >> validate_training_set(day)


echo_daily()
