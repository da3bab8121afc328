"""
# echo_daily

Turns one day of editor telemetry and model-server logs into refinement data.

For the day `ds` (the data interval's start; a manual run may pass the `ds` Param):
import assistants' own logs (Continue, Tabby; off unless `imports.sources` names them) ->
ingest -> validate raw -> align -> validate -> extract refinements (plan, one mapped task
per shard of documents, merge) -> validate;
then two branches: build training examples -> validate (updates the training-set Asset
that schedules echo_train); and marts -> online guard (rolls the champion back on a
significant A/B drop) -> analyst snapshot (marts and the model registry only); the marts
are validated before the guard reads them.
Every write replaces that day's partition, so re-runs and backfills are safe.
Data errors (bad input, failed blocking checks) fail at once, without retries.
A manual run may set the `overrides` Param ({"extract.max_quarantine_rate": 0.05}): those
settings change for that run only, and every task's log says so (`ECHO OVERRIDES`).
A run not finished by `alerts.daily_deadline_hour` (UTC) the next day sends a late alert.

On failure: read the `ECHO FAILURE` line in the task log, then `docs/runbook.md#echo_daily`.
Results in this UI (Browse menu, the `echo` plugin): [Echo report](/echo/report) (acceptance
per arm, promotions, outcomes, data quality, accounting) and
[Data Docs](/echo/data-docs/index.html) (every check's results).
"""

from __future__ import annotations

from datetime import date, datetime

from airflow.sdk import Asset, Param, chain, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from echo_ops import pipeline
from echo_ops.config import TRAINING_SET_ASSET, get_settings
from echo_ops.oncall import daily_deadline, fail_fast, overrides_param, task_defaults

settings = get_settings()
training_set = Asset(name=TRAINING_SET_ASSET)


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
        ),
        "overrides": overrides_param(),
    },
    default_args=task_defaults(settings, owner="echo-data"),
    deadline=daily_deadline(settings, pipeline.echo_daily_late),
    doc_md=__doc__,
)
def echo_daily():
    @task(task_display_name="Resolve partition day")
    def resolve_partition() -> date:
        """Decide which landing partition (`ds=YYYY-MM-DD`) this run processes."""
        from echo_ops.partition import partition_date

        ctx = get_current_context()
        return partition_date(
            ctx.get("logical_date"), ctx.get("data_interval_start"), ctx["params"].get("ds")
        )

    @task(task_display_name="Prepare warehouse")
    def init_warehouse(day: date) -> dict:
        """Create the warehouse file, its layers and ops tables if missing."""
        return fail_fast(pipeline.init_warehouse, day)

    @task(task_display_name="Import Continue / Tabby logs")
    def import_assistant_logs(day: date) -> dict:
        """Convert new files under the landing zone's continue/ and tabby/ into v1 events in
        the day partitions they belong to (docs/imports.md); a file is converted once."""
        return fail_fast(pipeline.import_assistant_logs, day)

    @task(task_display_name="Ingest landing day")
    def ingest(day: date) -> dict:
        """Load the day's client and server events into raw tables; bad lines go to
        ops.quarantine, every object to ops.manifest. Too many bad lines fails the task."""
        return fail_fast(pipeline.ingest, day)

    @task(task_display_name="Validate raw client events")
    def validate_raw_client(day: date) -> dict:
        """Checks raw.client_events (keys, nulls, types, timestamps, volume, drift)."""
        return fail_fast(pipeline.validate, "raw_client", day)

    @task(task_display_name="Validate raw server events")
    def validate_raw_server(day: date) -> dict:
        """Checks raw.server_events for the day."""
        return fail_fast(pipeline.validate, "raw_server", day)

    @task(task_display_name="Align completions with server requests")
    def align(day: date) -> dict:
        """Join each shown completion with the exact prompt the server saw (lookback window);
        a lookback day never ingested is ingested first (listed in the counts)."""
        return fail_fast(pipeline.align, day)

    @task(task_display_name="Validate aligned completions")
    def validate_aligned(day: date) -> dict:
        """Checks staging.int_completions_aligned_to_events for the day."""
        return fail_fast(pipeline.validate, "aligned", day)

    @task(task_display_name="Plan extract shards")
    def plan_extract(day: date) -> list[dict]:
        """Export the day's candidates and their documents' events as `extract.shards`
        shards of documents (Parquet under the data root); reads the warehouse only."""
        return fail_fast(pipeline.plan_extract, day)

    @task(task_display_name="Extract shard", pool=settings.schedule.extract_pool)
    def extract_shard(shard: dict) -> dict:
        """Follow one shard's completions to their settled text from its Parquet files alone
        (no warehouse: any worker can run it); a retry overwrites its decisions file."""
        return fail_fast(pipeline.extract_shard, shard)

    @task(task_display_name="Merge extract shards")
    def merge_extract(day: date, walked: list[dict]) -> dict:
        """Write every shard's decisions (staging.refinements; what the data does not cover
        yet is deferred); fail when shown != extracted + deferred + quarantined."""
        return fail_fast(pipeline.merge_extract, day, walked)

    @task(task_display_name="Validate refinements")
    def validate_refinements(day: date) -> dict:
        """Checks staging.refinements (outcomes, edit distances, lengths, acceptance drift)."""
        return fail_fast(pipeline.validate, "refinements", day)

    @task(task_display_name="Build training examples")
    def build_training_examples(day: date) -> dict:
        """The day's refinements -> training.examples (weights, replay, lineage, consent,
        secrets redacted, deduplicated, grouped split) and training.preference_pairs."""
        return fail_fast(pipeline.build_training_examples, day)

    @task(task_display_name="Validate training set", outlets=[training_set])
    def validate_training_set(day: date) -> dict:
        """Checks training.examples (no secrets, no opted-out users, no file on both sides);
        only a valid set updates the Asset that schedules echo_train."""
        ctx = get_current_context()
        # echo_train reads this: a backfilled day does not start a fine-tune of its own.
        backfill = ctx["dag_run"].run_type == "backfill"
        ctx["outlet_events"][training_set].extra = {"ds": day.isoformat(), "backfill": backfill}
        return fail_fast(pipeline.validate, "training_set", day)

    @task(task_display_name="Refresh marts")
    def refresh_marts(day: date) -> dict:
        """Rebuild the day in marts.fct_completions and marts.rpt_daily_acceptance."""
        return fail_fast(pipeline.refresh_marts, day)

    @task(task_display_name="Validate marts")
    def validate_marts(day: date) -> dict:
        """Checks the marts before analysts get them: rates in range, books balance, no day
        missing; a blocking failure keeps the previous published copy."""
        return fail_fast(pipeline.validate, "marts", day)

    @task(task_display_name="Online guard (A/B)")
    def online_guard(day: date) -> dict:
        """Record the champion's online result against the control arm; roll it back when
        treatment's acceptance is significantly below control's (docs/metrics.md)."""
        return fail_fast(pipeline.online_guard, day)

    @task(task_display_name="Publish analyst snapshot")
    def publish_snapshot(day: date) -> dict:
        """Copy the warehouse to the read-only analyst file, swapped in atomically."""
        return fail_fast(pipeline.publish_snapshot, day)

    # `day`, not `ds`: Airflow reserves `ds` (its own logical-date string) in a task's arguments.
    day = resolve_partition()
    # Extraction fans out: one mapped task per shard (any worker), between a plan and a
    # merge, the two that touch the warehouse (docs/scale.md).
    planned = plan_extract(day)
    # (a mapped task does not get its docstring as its doc by itself)
    walked = extract_shard.override(doc_md=extract_shard.function.__doc__).expand(shard=planned)
    extracted = merge_extract(day, walked)
    refined = validate_refinements(day)
    chain(
        init_warehouse(day),
        import_assistant_logs(day),
        ingest(day),
        [validate_raw_client(day), validate_raw_server(day)],
        align(day),
        validate_aligned(day),
        planned,
    )
    chain(extracted, refined)
    # Two branches after the refinements: the analysts' marts never wait on the ML data
    # (a failed training-set check fails its own branch and the Asset that schedules
    # echo_train, not the marts' refresh nor the published copy).
    chain(refined, build_training_examples(day), validate_training_set(day))
    chain(
        refined, refresh_marts(day), validate_marts(day), online_guard(day), publish_snapshot(day)
    )


echo_daily()
