"""The real echo_daily DAG, run with `airflow dags test` on a real metadata DB, on a
simulated day: every stage for real, scored against the simulator's truth."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from echo_ops.config import get_settings, reset_settings_cache
from tests.e2e.conftest import dags_test

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAY, NEXT_DAY = "2026-11-02", "2026-11-03"
SMALL = {"ECHO_SIMULATE__USERS": "2", "ECHO_SIMULATE__SESSIONS_PER_USER": "1"}


def _state(proc) -> str:
    for line in reversed(proc.stdout.splitlines() + proc.stderr.splitlines()):
        if "DagRun Finished" in line:
            return line.split("state=")[1].split(",")[0]
    return "unknown"


def _table_hashes(path) -> dict[str, object]:
    con = duckdb.connect(str(path), read_only=True)
    tables = ("staging.refinements", "training.examples", "marts.fct_completions")
    hashes = {
        t: con.execute(f"select count(*), sum(hash(columns(*))) from {t}").fetchall()
        for t in tables
    }
    con.close()
    return hashes


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Two small simulated days in a data root of its own (late events of the first
    land in the second's partition)."""
    import os

    from echo_ops.simulate import simulate_days

    root = tmp_path_factory.mktemp("e2e-daily")
    old = {k: os.environ.get(k) for k in ("ECHO_DATA_ROOT", *SMALL)}
    os.environ.update(ECHO_DATA_ROOT=str(root), **SMALL)
    reset_settings_cache()
    try:
        summary = simulate_days(date.fromisoformat(DAY), 2, workers=1, settings=get_settings())
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        reset_settings_cache()
    return root, summary


def test_daily_runs_extract_score_and_publish(airflow_env, simulated):
    root, _ = simulated
    for day in (DAY, NEXT_DAY):
        proc = dags_test(airflow_env, "echo_daily", day, root, **SMALL)
        assert proc.returncode == 0 and _state(proc) == "success", (
            proc.stdout[-4000:] + proc.stderr[-2000:]
        )

    con = duckdb.connect(str(root / "warehouse" / "echo.duckdb"))
    from echo_ops.config import Settings
    from echo_ops.simulate.score import score_day

    fidelity = score_day(con, date.fromisoformat(DAY), Settings(data_root=root))
    con.close()
    assert fidelity.truth > 20 and fidelity.extracted > 0
    assert fidelity.unaccounted == 0
    assert fidelity.fidelity_exact >= 0.99 and fidelity.outcome_accuracy >= 0.99, (
        fidelity.mismatches
    )

    published = duckdb.connect(str(root / "published" / "echo_analyst.duckdb"), read_only=True)
    (shown,) = published.execute(
        "select sum(shown_count) from marts.rpt_daily_acceptance"
    ).fetchone()
    assert shown == published.execute("select count(*) from marts.fct_completions").fetchone()[0]
    assert shown > 0
    schemas = {
        r[0]
        for r in published.execute("select schema_name from information_schema.schemata").fetchall()
    }
    assert not schemas & {"raw", "staging", "training", "ops"}  # marts and the registry only
    books = published.execute(
        "select ds, stage, unaccounted from marts.rpt_pipeline_accounting order by 1, 2"
    ).fetchall()
    assert [(str(d), s) for d, s, _ in books] == [
        (day, stage) for day in (DAY, NEXT_DAY) for stage in ("extract", "ingest")
    ] and all(u == 0 for *_, u in books)
    assert (
        published.execute(
            "select count(*) from marts.rpt_dq_history where suite = 'marts' and success"
        ).fetchone()[0]
        > 0
    )  # the marts suite ran, and passed, before the publish
    published.close()
    # No code people typed reaches the analysts: not one settled text of the day is in the copy.
    con = duckdb.connect(str(root / "warehouse" / "echo.duckdb"), read_only=True)
    typed = [t for (t,) in con.execute(
        "select distinct final_text from staging.refinements where length(final_text) >= 24"
    ).fetchall()]  # fmt: skip
    con.close()
    copy = (root / "published" / "echo_analyst.duckdb").read_bytes()
    assert typed and not [t for t in typed if t.encode() in copy]


def test_rerunning_a_day_gives_identical_tables(airflow_env, simulated):
    """Runs after the test above: re-running the first day, out of order, and with its
    extraction spread over 3 mapped shard tasks instead of 1, changes nothing."""
    root, _ = simulated
    before = _table_hashes(root / "warehouse" / "echo.duckdb")
    again = dags_test(airflow_env, "echo_daily", DAY, root, **SMALL, ECHO_EXTRACT__SHARDS="3")
    assert _state(again) == "success"
    assert _table_hashes(root / "warehouse" / "echo.duckdb") == before
    (plan,) = (root / "extract-shards" / f"ds={DAY}").glob("plan-*")
    assert len(list(plan.glob("shard-*/decisions.parquet"))) == 3


def test_failure_names_task_and_runbook(airflow_env, tmp_path):
    # A warehouse path that is a directory cannot be opened: the run must fail loudly.
    (tmp_path / "warehouse" / "echo.duckdb").mkdir(parents=True)
    proc = dags_test(airflow_env, "echo_daily", DAY, tmp_path)
    out = proc.stdout + proc.stderr
    assert _state(proc) == "failed"
    assert "ECHO FAILURE dag=echo_daily task=init_warehouse" in out
    assert "docs/runbook.md#echo_daily" in out


def test_a_day_with_no_landing_data_fails_without_retry(airflow_env, tmp_path):
    proc = dags_test(airflow_env, "echo_daily", DAY, tmp_path)
    out = proc.stdout + proc.stderr
    assert _state(proc) == "failed"
    # Ingest loads nothing; the blocking volume check on raw events names the problem.
    assert "ECHO FAILURE dag=echo_daily task=validate_raw_client" in out
    assert "day_not_empty" in out and "AirflowFailException" in out
    assert "task_id=align" not in out  # nothing downstream ran
