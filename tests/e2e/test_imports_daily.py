"""The real echo_daily DAG on a day where Echo's own collector (simulated), Continue and
Tabby all delivered: the imported logs reach the acceptance marts with the numbers a hand
count of the fixtures gives (tests/fixtures/imports/README.md), side by side with Echo's
own completions; re-running the day imports nothing new and changes no table."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from echo_ops.config import get_settings, reset_settings_cache
from tests.e2e.conftest import dags_test

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAY = "2026-11-02"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
ENV = {
    "ECHO_SIMULATE__USERS": "2",
    "ECHO_SIMULATE__SESSIONS_PER_USER": "1",
    "ECHO_IMPORTS__SOURCES": '["continue", "tabby"]',
    "ECHO_IMPORTS__USER_ID_KEY": "e2e-key",
}


def _state(proc) -> str:
    for line in reversed(proc.stdout.splitlines() + proc.stderr.splitlines()):
        if "DagRun Finished" in line:
            return line.split("state=")[1].split(",")[0]
    return "unknown"


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """One simulated day of Echo's collector, plus the assistants' logs under continue/, tabby/."""
    from echo_ops.simulate import simulate_days

    root = tmp_path_factory.mktemp("e2e-imports")
    sim_env = {k: v for k, v in ENV.items() if k.startswith("ECHO_SIMULATE")}
    old = {k: os.environ.get(k) for k in ("ECHO_DATA_ROOT", *sim_env)}
    os.environ.update(ECHO_DATA_ROOT=str(root), **sim_env)
    reset_settings_cache()
    try:
        simulate_days(date.fromisoformat(DAY), 1, workers=1, settings=get_settings())
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        reset_settings_cache()
    for source in ("continue", "tabby"):
        shutil.copytree(FIXTURES / source, root / "landing" / source)
    return root


def _marts(path: Path, warehouse: Path | None = None) -> tuple[list, tuple, list]:
    """The acceptance report from `path` (the published copy or the warehouse), Echo's own
    counts from the warehouse's staging (never published), and table hashes."""
    con = duckdb.connect(str(path), read_only=True)
    staging = duckdb.connect(str(warehouse), read_only=True) if warehouse else con
    report = con.execute(
        "select client, shown_count, accepted_count, acceptance_rate from marts.rpt_daily_acceptance "
        "where ds = ? order by client, model_version",
        [DAY],
    ).fetchall()
    echo = staging.execute(
        "select count(*), count(*) filter (where outcome in "
        "('accepted_kept', 'accepted_refined', 'partial_accepted')) "
        "from staging.refinements where ds = ?",
        [DAY],
    ).fetchone()
    hashes = [
        (staging if t.startswith("staging") else con)
        .execute(f"select count(*), sum(hash(columns(*))) from {t}")
        .fetchone()
        for t in ("marts.fct_completions", "marts.rpt_daily_acceptance", "staging.refinements")
    ]
    con.close()
    if staging is not con:
        staging.close()
    return report, echo, hashes


def test_imported_logs_reach_the_acceptance_marts_beside_echos_own(airflow_env, landed):
    proc = dags_test(airflow_env, "echo_daily", DAY, landed, **ENV)
    assert proc.returncode == 0 and _state(proc) == "success", (
        proc.stdout[-4000:] + proc.stderr[-2000:]
    )
    report, (echo_shown, echo_accepted), _ = _marts(
        landed / "published" / "echo_analyst.duckdb", landed / "warehouse" / "echo.duckdb"
    )
    by_client: dict[str, list[int]] = {}
    for client, shown, accepted, _rate in report:
        totals = by_client.setdefault(client, [0, 0])
        totals[0] += shown
        totals[1] += accepted
    # the hand count of tests/fixtures/imports/README.md
    assert by_client["continue"] == [9, 5]
    assert by_client["tabby"] == [4, 2]
    assert by_client["echo"] == [echo_shown, echo_accepted] and echo_shown > 0
    con = duckdb.connect(str(landed / "warehouse" / "echo.duckdb"), read_only=True)
    quarantined = con.execute(
        "select source, count(*) from ops.quarantine where stage = 'import' group by 1 order by 1"
    ).fetchall()
    imported_examples = con.execute(
        "select count(*) from training.examples where ds = ? and source = 'imported'", [DAY]
    ).fetchone()[0]
    accounting = con.execute(
        "select shown, unaccounted from ops.extract_accounting where ds = ?", [DAY]
    ).fetchone()
    con.close()
    assert quarantined == [("continue", 3 + 1), ("tabby", 4)]  # + a broken nextEdit line
    assert accounting[1] == 0  # imported completions are not extraction's to account for
    assert 0 < imported_examples <= 6  # full accepts of the day, after dedup


def test_rerunning_the_day_imports_nothing_and_changes_nothing(airflow_env, landed):
    """Runs after the test above."""
    warehouse = landed / "warehouse" / "echo.duckdb"
    before = _marts(warehouse)
    objects = sorted(p.name for p in (landed / "landing").rglob("import-*.jsonl"))
    again = dags_test(airflow_env, "echo_daily", DAY, landed, **ENV)
    assert _state(again) == "success"
    assert _marts(warehouse) == before
    assert sorted(p.name for p in (landed / "landing").rglob("import-*.jsonl")) == objects
    con = duckdb.connect(str(warehouse), read_only=True)
    files = con.execute("select count(*) from ops.import_files").fetchone()[0]
    imported_raw = con.execute(
        "select count(*), count(distinct event_id) from raw.client_events "
        "where client_name in ('continue', 'tabby')"
    ).fetchone()
    con.close()
    assert files == 6  # each source file converted once
    assert imported_raw[0] == imported_raw[1] > 0  # and no event twice
