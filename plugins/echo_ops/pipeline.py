"""The task layer: one function per task of `echo_daily` and `echo_train`.

Each function is what one Airflow task (and the matching `echo-ops` verb) does: read the
settings once, open the warehouse for the length of its stage, call that one stage with
explicit inputs, and return a small dict of counts for the Airflow UI. Policy that is not
a stage (catch-up ingest of a missing lookback day, whether there is enough new data to
fine-tune) is decided here, in the open, and shows up in the returned counts.

Stage modules are imported inside the functions: DAG files import this module at parse
time, and duckdb, torch or Great Expectations must not load then.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from echo_ops.config import Settings, get_settings


def _settings(settings: Settings | None) -> Settings:
    return settings or get_settings()


def _open(settings: Settings, read_only: bool = False):
    from echo_ops.warehouse import open_warehouse

    return open_warehouse(settings, read_only=read_only)


# --- echo_daily ----------------------------------------------------------------------


def init_warehouse(ds: date, settings: Settings | None = None) -> dict:
    """Create the warehouse file, its layers and tables if missing; say what columns mean."""
    from echo_ops.catalog import apply_comments
    from echo_ops.warehouse import LAYERS, ensure_pipeline_tables

    with _open(_settings(settings)) as con:
        ensure_pipeline_tables(con)
        comments = apply_comments(con)
    return {"ds": ds, "layers": len(LAYERS), "column_comments": comments}


def import_assistant_logs(ds: date, settings: Settings | None = None) -> dict:
    """Continue / Tabby logs under the landing zone -> v1 events, when `imports.sources`
    names them (docs/imports.md); a file is converted once per content."""
    settings = _settings(settings)
    if not settings.imports.sources:
        return {"ds": ds, "sources": []}
    from echo_ops.adapters.importer import import_landing

    with _open(settings) as con:
        return {"ds": ds, **import_landing(con, settings)}


def ingest(ds: date, settings: Settings | None = None) -> dict:
    from echo_ops.ingest import ingest_day

    settings = _settings(settings)
    with _open(settings) as con:
        result = ingest_day(con, ds, settings)
    return {"ds": ds, **result.counts(), "quarantined_by_reason": result.by_reason}


def align(ds: date, settings: Settings | None = None) -> dict:
    """Align day ds; first ingest any landing day of its lookback window never ingested
    (a backfill that starts mid-month needs the days before it). Raw partitions depend
    only on their own landing day, so this gives the same rows as their own runs."""
    settings = _settings(settings)
    with _open(settings) as con:
        return catch_up_and_align(con, ds, settings)


def catch_up_and_align(con, ds: date, settings: Settings) -> dict:
    """Ingest the lookback days never ingested, then align ds (on an open connection)."""
    from echo_ops.align import align_day, window
    from echo_ops.ingest import ingest_day, ingested_days

    done = ingested_days(con)
    missing = [d for d in window(ds, settings.extract.align_lookback_days) if d not in done]
    for day in missing:
        ingest_day(con, day, settings)
    result = align_day(con, ds, settings)
    return {"ds": ds, "caught_up_ingest_days": [d.isoformat() for d in missing], **result.counts()}


def extract(ds: date, settings: Settings | None = None, progress=None) -> dict:
    """Extract day ds; align it first when no align run of ds exists (`echo-ops extract`
    run alone), and say so in the counts."""
    from echo_ops.align import aligned
    from echo_ops.extract import extract_day

    settings = _settings(settings)
    with _open(settings) as con:
        caught_up = catch_up_and_align(con, ds, settings) if not aligned(con, ds) else None
        result = extract_day(con, ds, settings, progress=progress)
    return {"ds": ds, "caught_up_align": caught_up is not None, **result.counts()}


def _shards_root(settings: Settings):
    from pathlib import Path

    return Path(settings.data_root) / "extract-shards"


def plan_extract(ds: date, settings: Settings | None = None) -> list[dict]:
    """Export day ds's extraction inputs as `extract.shards` shards (Parquet under the data
    root), reading the warehouse only; returns one spec per shard for the mapped tasks."""
    from echo_ops.align import aligned
    from echo_ops.extract import ExtractError
    from echo_ops.extract.plan import plan_shards
    from echo_ops.logs import stage_run
    from echo_ops.warehouse import limit_memory

    settings = _settings(settings)
    cfg = settings.extract
    with _open(settings, read_only=True) as con, stage_run("extract_plan", ds=ds) as counts:
        if not aligned(con, ds):
            raise ExtractError(f"day {ds} was never aligned: run align for it first")
        limit_memory(con, settings)
        plan = plan_shards(con, ds, cfg, _shards_root(settings), cfg.shards, cfg.staging_keep_days)
        counts.update(shards=plan.shards, candidates=plan.candidates, skipped=plan.skipped)
    return [{"ds": ds, "plan_dir": str(plan.dir), "shard": k} for k in range(plan.shards)]


def extract_shard(shard: dict, settings: Settings | None = None) -> dict:
    """Walk one shard of a plan from its Parquet files (no warehouse) and write its
    decisions next to them; a retry overwrites them."""
    from pathlib import Path

    from echo_ops.extract.plan import read_plan
    from echo_ops.extract.shards import walk_shard
    from echo_ops.logs import stage_run

    cfg = _settings(settings).extract
    shard_dir = read_plan(Path(shard["plan_dir"])).shard_dir(shard["shard"])
    with stage_run("extract_shard", ds=shard["ds"], plan=shard_dir.parent.name) as counts:
        counts.update(walk_shard(shard_dir, cfg.walk_workers, cfg.duckdb_memory_limit))
    return {"ds": shard["ds"], "plan_dir": shard["plan_dir"], **counts}


def merge_extract(ds: date, walked: list[dict], settings: Settings | None = None) -> dict:
    """Write the shards' decisions for day ds into the warehouse (replacing the day) and
    check the books: shown = extracted + deferred + quarantined."""
    from pathlib import Path

    from echo_ops.extract import ExtractResult
    from echo_ops.extract.merge import merge_shards
    from echo_ops.logs import stage_run
    from echo_ops.warehouse import ensure_pipeline_tables

    plan_dirs = {w["plan_dir"] for w in walked}
    if len(plan_dirs) != 1:
        raise ValueError(f"extract shards of {ds} come from {len(plan_dirs)} plans: {plan_dirs}")
    result = ExtractResult(ds)
    with _open(_settings(settings)) as con, stage_run("extract", ds=ds) as counts:
        ensure_pipeline_tables(con)
        merge_shards(con, Path(plan_dirs.pop()), result)
        counts.update(result.counts())
    return {"ds": ds, "shards": len(walked), **result.counts()}


def validate(suite: str, ds: date, settings: Settings | None = None) -> dict:
    """Run one quality suite on day ds; raises DataQualityError on a blocking failure."""
    from echo_ops.quality import run_suite

    settings = _settings(settings)
    with _open(settings) as con:
        result = run_suite(con, suite, ds, settings)
    return {"ds": ds, **result.counts(), "data_docs": str(result.docs_path)}


def build_training_examples(ds: date, settings: Settings | None = None) -> dict:
    from echo_ops.datasets import build_training_examples as build

    settings = _settings(settings)
    with _open(settings) as con:
        return {"ds": ds, **build(con, ds, settings)}


def refresh_marts(ds: date, settings: Settings | None = None) -> dict:
    from echo_ops.marts import refresh_marts as refresh

    with _open(_settings(settings)) as con:
        return {"ds": ds, **refresh(con, ds)}


def online_guard(ds: date, settings: Settings | None = None) -> dict:
    from echo_ops.guard import online_guard as guard

    settings = _settings(settings)
    with _open(settings) as con:
        return {"ds": ds, **guard(con, ds, settings)}


def publish_snapshot(ds: date, settings: Settings | None = None) -> dict:
    from echo_ops.warehouse import publish_snapshot as publish

    settings = _settings(settings)
    with _open(settings) as con:
        tables = publish(con, settings.storage.published_path)
    return {"ds": ds, "tables": len(tables), "rows": sum(tables.values())}


# --- echo_train ----------------------------------------------------------------------


def check_new_data(
    settings: Settings | None = None, triggered_by: list[dict] | None = None
) -> dict[str, Any]:
    """Is there a champion, and enough new training examples to fine-tune it? `triggered_by`:
    the extras of the training-set Asset events behind this run (none for a manual run)."""
    from echo_ops.finetune import fine_tune_decision, new_data_window
    from echo_ops.logs import get_logger

    settings = _settings(settings)
    with _open(settings) as con:
        window = new_data_window(con)
    decision = fine_tune_decision(window, settings.train.min_new_examples, triggered_by or [])
    get_logger("echo_train").info(
        "fine-tune now: %s (%s)", decision["fine_tune"], decision["reason"]
    )
    return decision


def fine_tune(resume: bool = False, settings: Settings | None = None, on_step=None) -> dict:
    """Train a candidate and stage its files (reads the warehouse read-only; no lock held
    while training); `register_candidate` adds it to the registry."""
    from echo_ops.finetune import fine_tune as train_candidate

    return train_candidate(_settings(settings), resume=resume, on_step=on_step)


def register_candidate(candidate_id: str, settings: Settings | None = None) -> dict:
    """Add the staged candidate to registry.models: the fine-tune's only warehouse write."""
    from echo_ops.finetune import register_candidate as register

    settings = _settings(settings)
    with _open(settings) as con:
        return register(con, candidate_id, settings)


def evaluate_candidate(candidate_id: str, settings: Settings | None = None) -> dict:
    """Score candidate and champion: inputs read on a read-only connection, closed before
    scoring; the report goes beside the candidate and `promote_or_reject` records it."""
    from echo_ops.evaluate import load_inputs, score_candidate

    settings = _settings(settings)
    with _open(settings, read_only=True) as con:
        inputs = load_inputs(con, candidate_id, settings)
    report = score_candidate(inputs, settings)
    return {"candidate_id": report["candidate_id"], "candidate_loss": report["candidate"]["loss"],
            "champion_loss": report["champion"]["loss"], "report_uri": report["report_uri"]}  # fmt: skip


def promote_or_reject(candidate_id: str, settings: Settings | None = None) -> dict:
    """Record the candidate's evaluation (its eval_report.json), then promote or reject it."""
    from echo_ops.evaluate import record_evaluation
    from echo_ops.promote import promote_or_reject as decide
    from echo_ops.registry import get_model, read_artifact_json

    settings = _settings(settings)
    with _open(settings) as con:
        report = read_artifact_json(
            get_model(con, candidate_id).artifact_uri, "eval_report.json", settings.storage
        )
        if report and "metrics" in report:
            record_evaluation(con, report)
        decision = decide(con, candidate_id, settings)
    return {"candidate_id": candidate_id, "promoted": decision["promote"],
            "reason": decision["reason"]}  # fmt: skip


# --- alerts ----------------------------------------------------------------------------


async def echo_daily_late(context: dict[str, Any] | None = None, **_: Any) -> None:
    """echo_daily's Deadline Alert callback (oncall.daily_deadline): Airflow's triggerer
    awaits it when a run misses its deadline; logs `ECHO LATE` and sends the late alert."""
    from echo_ops.notifier import EchoNotifier

    settings = _settings(None)
    await EchoNotifier(settings.alerts, settings.schedule.ui_base_url, kind="late",
                       context=context or {})  # fmt: skip
