"""Sharded extraction (plan -> shards -> merge, as echo_daily's mapped tasks run it) writes
the same tables for any shard count, never opens the warehouse in a shard, and is safe to
re-run; a lost or doubled shard output fails the merge instead of losing completions."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from eventkit import align_and_extract

from echo_ops import pipeline
from echo_ops.extract import ExtractError
from echo_ops.extract.merge import ShardOutputMissing
from echo_ops.extract.plan import read_plan, shard_of
from echo_ops.ingest import ingest_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 10)
DAYS = (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2))
TABLES = (
    "staging.refinements",
    "ops.extract_deferrals",
    "ops.extract_accounting",
    "ops.quarantine where stage = 'extract'",
)


def _tables(settings) -> list:
    con = connect(settings, read_only=True)
    try:
        return [con.execute(f"select * from {t} order by all").fetchall() for t in TABLES]
    finally:
        con.close()


def _run_mapped(day: date, settings, retry_shard: int | None = None) -> dict:
    """What echo_daily's three extract tasks do, with the warehouse file moved away while
    the shards run: they must need only the plan's Parquet files."""
    specs = pipeline.plan_extract(day, settings)
    warehouse = Path(settings.storage.warehouse_path)
    hidden = warehouse.with_name("hidden-while-shards-run.duckdb")
    warehouse.rename(hidden)
    try:
        walked = [pipeline.extract_shard(s, settings) for s in specs]
        if retry_shard is not None:  # a retried shard overwrites its own file
            walked[retry_shard] = pipeline.extract_shard(specs[retry_shard], settings)
    finally:
        hidden.rename(warehouse)
    return pipeline.merge_extract(day, walked, settings)


@pytest.mark.slow
def test_any_shard_count_writes_the_same_tables(settings, monkeypatch):
    from echo_ops.simulate import simulate_days

    # A realistic day: the simulator's default noise (late, duplicated, reordered events,
    # clock skew), and a second day so that deferrals settle and earlier runs' rows skip.
    simulate_days(DAY, 2, users=2, target_events=24_000, workers=1, settings=settings)
    con = connect(settings)
    for day in DAYS:
        ingest_day(con, day, settings)
        align_and_extract(con, day, settings)  # in one process, one shard: the baseline
    con.close()
    one_shard = _tables(settings)
    assert len(one_shard[0]) > 100 and one_shard[1], "the day must extract and defer"
    # The books balance every day: shown = extracted + deferred + quarantined.
    assert [(row[1] - row[2] - row[3] - row[4], row[5]) for row in one_shard[2]] == [(0, 0)] * 3

    for k in (2, 3, 4):
        monkeypatch.setattr(settings.extract, "shards", k)
        for day in DAYS:
            counts = _run_mapped(day, settings, retry_shard=1 if k == 2 else None)
            assert counts["shards"] == k and counts["candidates"] > 0
        assert _tables(settings) == one_shard, f"{k} shards wrote other rows"
    # Re-running the merge alone replaces the day (its plan and shard files are kept).
    specs = pipeline.plan_extract(DAY, settings)
    walked = [pipeline.extract_shard(s, settings) for s in specs]
    pipeline.merge_extract(DAY, walked, settings)
    pipeline.merge_extract(DAY, walked, settings)
    assert _tables(settings) == one_shard

    # The plan splits documents over every shard, and a re-plan replaces the day's plan.
    plan = read_plan(Path(specs[0]["plan_dir"]))
    sizes = [(plan.shard_dir(k) / "candidates.parquet").stat().st_size for k in range(4)]
    assert min(sizes) > 2000, sizes  # no empty shard on this day
    again = pipeline.plan_extract(DAY, settings)
    assert not plan.dir.exists() and Path(again[0]["plan_dir"]).is_dir()

    # A shard that wrote nothing, or a doubled output, fails the merge.
    walked = [pipeline.extract_shard(s, settings) for s in again]
    shard_files = [read_plan(Path(s["plan_dir"])).shard_dir(s["shard"]) for s in again]
    (shard_files[1] / "decisions.parquet").rename(shard_files[1] / "moved.parquet")
    with pytest.raises(ShardOutputMissing, match="shard-001"):
        pipeline.merge_extract(DAY, walked, settings)
    shutil.copy(shard_files[0] / "decisions.parquet", shard_files[1] / "decisions.parquet")
    with pytest.raises(ExtractError, match="without exactly one decision"):
        pipeline.merge_extract(DAY, walked, settings)


def test_a_document_keeps_its_shard_whatever_the_process():
    assert shard_of("s1", "file:///a.py", 4) == shard_of("s1", "file:///a.py", 4)
    # The session is part of the key: one file edited in many sessions spreads out.
    assert len({shard_of(f"s{i}", "file:///repo/main.py", 4) for i in range(40)}) == 4
    assert {shard_of("s1", "file:///a.py", 1)} == {0}
