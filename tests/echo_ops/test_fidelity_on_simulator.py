"""End to end on the simulator's output (default noise): fidelity against its truth."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from eventkit import align_and_extract

from echo_ops.config import get_settings
from echo_ops.extract import shards
from echo_ops.ingest import ingest_day
from echo_ops.simulate.score import score_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 10)


@pytest.mark.slow
def test_extraction_matches_simulator_truth(settings, monkeypatch):
    from echo_ops.simulate import simulate_days

    simulate_days(DAY, 2, users=2, target_events=30_000, workers=1, settings=settings)
    con = connect(get_settings())
    for day in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)):
        ingest_day(con, day, settings)
        align_and_extract(con, day, settings)
    f = score_day(con, DAY, settings)
    assert f.truth > 100
    assert f.unaccounted == 0
    assert f.extracted >= 0.95 * f.truth  # the rest is deferred (late accept events) or quarantined
    assert f.fidelity_exact >= 0.995, f.mismatches
    assert f.outcome_accuracy >= 0.99
    unbalanced = con.execute("select sum(abs(unaccounted)) from ops.extract_accounting").fetchone()
    assert unbalanced == (0,)

    # Walking the documents in worker processes (echo_ops.extract.shards) decides the same.
    tables = ("staging.refinements", "ops.extract_deferrals", "ops.extract_accounting")

    def extracted() -> list:
        return [con.execute(f"select * from {t} order by all").fetchall() for t in tables]

    in_process = extracted()
    monkeypatch.setattr(shards, "MIN_CANDIDATES_PER_WORKER", 1)
    monkeypatch.setattr(settings.extract, "walk_workers", 3)
    started = []
    monkeypatch.setattr(shards, "_start_worker", _spy(shards._start_worker, started))
    for day in (DAY, DAY + timedelta(days=1)):
        align_and_extract(con, day, settings)
    assert len(started) == 4  # two workers a day
    assert extracted() == in_process


def _spy(fn, calls: list):
    def spy(*args):
        calls.append(args[0])
        return fn(*args)

    return spy
