"""End to end on the simulator's output (default noise): fidelity against its truth."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from echo_ops.extract import extract_day
from echo_ops.ingest import ingest_day
from echo_ops.score import score_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 10)


@pytest.mark.slow
def test_extraction_matches_simulator_truth(settings):
    from echo_ops.simulate import simulate_days

    simulate_days(DAY, 2, users=2, target_events=30_000, workers=1, settings=settings)
    con = connect()
    for day in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)):
        ingest_day(con, day, settings)
        extract_day(con, day, settings)
    f = score_day(con, DAY, settings)
    assert f.truth > 100
    assert f.unaccounted == 0
    assert f.extracted >= 0.95 * f.truth  # the rest is deferred (late accept events) or quarantined
    assert f.fidelity_exact >= 0.995, f.mismatches
    assert f.outcome_accuracy >= 0.99
    unbalanced = con.execute("select sum(abs(unaccounted)) from ops.extract_accounting").fetchone()
    assert unbalanced == (0,)
