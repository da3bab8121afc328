"""Importing assistant logs into the landing zone: idempotent, quarantined, counted, and
decided in the warehouse as the assistants decided (ingest and marts for real)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from echo_ops.adapters.importer import (
    ImportInputError,
    import_files,
    import_landing,
    landing_files,
    local_files,
)
from echo_ops.config import get_settings, reset_settings_cache
from echo_ops.ingest import ingest_day
from echo_ops.marts import refresh_marts
from echo_ops.storage import list_objects
from echo_ops.warehouse import open_warehouse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
DAY = date(2026, 11, 2)
TOKEN = "ctok-SECRET-alice-9f2c"


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("ECHO_IMPORTS__USER_ID_KEY", "test-key")
    reset_settings_cache()
    return get_settings()


def continue_paths() -> list[Path]:
    return sorted((FIXTURES / "continue").rglob("autocomplete.jsonl"))


def landing_keys(settings) -> list[str]:
    return [o.key for o in list_objects(settings.storage.landing_uri) if "ds=" in o.key]


def test_reimporting_the_same_files_adds_nothing(keyed):
    with open_warehouse(get_settings()) as con:
        first = import_files(con, "continue", local_files("continue", continue_paths()), keyed)
        keys = {k: (Path(keyed.storage.landing_uri) / k).read_bytes() for k in landing_keys(keyed)}
        again = import_files(con, "continue", local_files("continue", continue_paths()), keyed)
        rows = con.execute("select count(*) from ops.import_files").fetchone()[0]
        quarantined = con.execute(
            "select count(*) from ops.quarantine where stage = 'import'"
        ).fetchone()[0]
    assert first.files == 3 and first.events > 0
    assert (again.files, again.unchanged, again.events) == (0, 3, 0)
    assert rows == 3 and quarantined == first.quarantined == 3
    assert {
        k: (Path(keyed.storage.landing_uri) / k).read_bytes() for k in landing_keys(keyed)
    } == keys


def test_refused_lines_are_quarantined_with_file_line_and_reason(keyed):
    with open_warehouse(get_settings()) as con:
        import_files(con, "continue", local_files("continue", continue_paths()), keyed)
        rows = con.execute(
            "select ds, source, object_key, line_no, split_part(reason, ':', 1) "
            "from ops.quarantine where stage = 'import' order by line_no"
        ).fetchall()
    alice = str((FIXTURES / "continue/alice/dev_data/0.2.0/autocomplete.jsonl").resolve())
    assert rows == [
        (DAY, "continue", alice, 8, "impossible_sequence"),
        (DAY, "continue", alice, 9, "invalid_json"),
        (DAY, "continue", alice, 10, "unknown_schema_version"),
    ]


def test_a_grown_file_gives_the_same_events_for_its_old_lines(keyed, tmp_path):
    src = FIXTURES / "continue/alice/dev_data/0.2.0/autocomplete.jsonl"
    lines = src.read_text().splitlines(keepends=True)
    grown = tmp_path / "dev_data" / "0.2.0" / "autocomplete.jsonl"
    grown.parent.mkdir(parents=True)
    grown.write_text("".join(lines[:3]))  # c-003 not accepted yet: only its rejection
    with open_warehouse(get_settings()) as con:
        import_files(con, "continue", local_files("continue", [grown]), keyed)
        grown.write_text("".join(lines))  # Continue appended the late accept, and more
        second = import_files(con, "continue", local_files("continue", [grown]), keyed)
        assert second.files == 1
        ingest_day(con, DAY, keyed)
        dupes = con.execute(
            "select duplicates from ops.ingest_summary where ds = ? and source = 'client'", [DAY]
        ).fetchone()[0]
        refresh_marts(con, DAY)
        decided = dict(
            con.execute(
                "select completion_id, decision from marts.fct_completions where ds = ?", [DAY]
            ).fetchall()
        )
        conflicts = con.execute(
            "select count(*) from ops.quarantine where reason like 'duplicate_conflict%'"
        ).fetchone()[0]
    assert dupes == 6 and conflicts == 0  # shown + decision of c-001, c-002 and c-003
    # the late accept of c-003 came with the second import: the later outcome wins
    assert decided["c-003"] == "accepted" and decided["c-002"] == "rejected"


def test_stale_days_are_reported_when_a_file_adds_to_an_ingested_day(keyed, tmp_path):
    lines = (FIXTURES / "tabby/events/2026-11-03.json").read_text()
    with open_warehouse(get_settings()) as con:
        ingest_day(con, date(2026, 11, 3), keyed)
        day2 = tmp_path / "2026-11-03.json"
        day2.write_text(lines)
        result = import_files(con, "tabby", local_files("tabby", [day2]), keyed)
    assert result.stale_days == {date(2026, 11, 3)}


def test_landing_discovery_and_the_day_marts_match_a_hand_count(keyed, monkeypatch):
    landing = Path(keyed.storage.landing_uri)
    shutil.copytree(FIXTURES / "continue", landing / "continue")
    shutil.copytree(FIXTURES / "tabby", landing / "tabby")
    (landing / "continue/alice/dev_data/0.2.0/chatInteraction.jsonl").write_text("{}\n")
    monkeypatch.setenv("ECHO_IMPORTS__SOURCES", '["continue", "tabby"]')
    reset_settings_cache()
    settings = get_settings()
    continue_files = landing_files("continue", settings.storage)
    assert [(f.name, f.context is not None) for f in continue_files] == [
        ("autocomplete.jsonl", False),
        ("nextEditWithHistory.jsonl", True),  # read with the autocomplete log beside it
        ("autocomplete.jsonl", False),
        ("autocomplete.jsonl", False),
    ]
    tabby_files = landing_files("tabby", settings.storage)
    assert [f.context is not None for f in tabby_files] == [False, True]
    with open_warehouse(get_settings()) as con:
        summary = import_landing(con, settings)
        assert import_landing(con, settings)["continue_files"] == 0  # nothing new
        ingest_day(con, DAY, settings)
        refresh_marts(con, DAY)
        report = con.execute(
            "select client, shown_count, accepted_count, kept_verbatim_count "
            "from marts.rpt_daily_acceptance where ds = ? order by client",
            [DAY],
        ).fetchall()
        tabby_decisions = dict(
            con.execute(
                "select completion_id, decision || coalesce('/' || accept_kind, '') "
                "from marts.fct_completions where client = 'tabby'"
            ).fetchall()
        )
        refinements = con.execute(
            "select completion_id, final_text, source_line, confidence > 0.5 "
            "from staging.imported_refinements"
        ).fetchall()
        stored = con.execute(
            "select (select count(*) from raw.client_events where payload like $t) "
            "+ (select count(*) from ops.quarantine where raw_text like $t)",
            {"t": f"%{TOKEN}%"},
        ).fetchone()[0]
    assert summary["continue_quarantined"] == 3 + 1 and summary["tabby_quarantined"] == 4
    assert refinements == [("c-001", "return int(a + b)", 1, True)]
    # hand count of tests/fixtures/imports (README.md there)
    assert report == [("continue", 9, 5, None), ("tabby", 4, 2, None)]
    assert tabby_decisions == {"cmpl-1": "accepted/full", "cmpl-2": "dismissed",
                               "cmpl-3": "accepted/line", "cmpl-6": "undecided"}  # fmt: skip
    assert stored == 0


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ImportInputError, match="no such file"):
        local_files("tabby", [tmp_path / "2026-11-02.json"])


def test_imported_accepts_become_weighted_positives_in_the_training_set(keyed):
    from echo_ops.datasets import build_training_examples

    with open_warehouse(get_settings()) as con:
        for source in ("continue", "tabby"):
            paths = sorted((FIXTURES / source).rglob("*.json*"))
            import_files(con, source, local_files(source, paths), keyed)
        ingest_day(con, DAY, keyed)
        counts = build_training_examples(con, DAY, keyed)
        rows = con.execute(
            "select refinement_id, outcome, target, round(weight, 3), split "
            "from training.examples where ds = ? and source = 'imported' order by 1",
            [DAY],
        ).fetchall()
        pairs = con.execute("select count(*) from training.preference_pairs").fetchone()[0]
    assert counts["imported"] == 6  # full accepts: c-001 c-003 c-005 o-001 u-001 cmpl-1
    by_id = {r[0]: r for r in rows}
    assert by_id["c-001"][1:4] == ("imported_refined", "return int(a + b)", 0.942)
    assert by_id["o-001"][1:4] == ("imported_accepted", 'return os.environ["HOME"]', 0.5)
    assert "cmpl-3" not in by_id  # a line accept: how much was taken is unknown
    assert pairs == 0  # an imported link is a guess: no preference pair from it


def test_the_cli_imports_once_and_reports_acceptance_by_client(keyed, capsys, tmp_path):
    import json

    from echo_ops.cli import main
    from echo_ops.warehouse import publish_snapshot

    day_files = [str(p) for p in sorted((FIXTURES / "tabby/events").glob("*.json"))]
    assert main(["import", "tabby", *day_files]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["import", "tabby", *day_files]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (first["files"], first["quarantined"]) == (2, 4)
    assert (again["files"], again["unchanged"], again["events"]) == (0, 2, 0)
    assert main(["import", "tabby", str(tmp_path / "2026-11-09.json")]) == 1
    assert "no such file" in capsys.readouterr().err

    with open_warehouse(get_settings()) as con:
        ingest_day(con, DAY, keyed)
        refresh_marts(con, DAY)
        publish_snapshot(con, keyed.storage.published_path)
    assert main(["acceptance", "--ds", DAY.isoformat(), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["client"], row["shown"], row["accepted"], row["acceptance"]) == ("tabby", 4, 2, 0.5)


def test_imports_read_and_write_an_s3_landing_zone(s3_server, monkeypatch):
    from echo_ops import storage

    landing = f"s3://{s3_server}/landing"
    monkeypatch.setenv("ECHO_STORAGE__LANDING_URI", landing)
    monkeypatch.setenv("ECHO_IMPORTS__SOURCES", '["tabby"]')
    reset_settings_cache()
    settings = get_settings()
    for path in sorted((FIXTURES / "tabby").rglob("*.json")):
        key = "tabby/" + path.relative_to(FIXTURES / "tabby").as_posix()
        storage.write_bytes(landing, key, path.read_bytes(), settings.storage)
    with open_warehouse(get_settings()) as con:
        summary = import_landing(con, settings)
        ingest_day(con, date(2026, 11, 3), settings)
        refresh_marts(con, date(2026, 11, 3))
        shown = con.execute(
            "select count(*) filter (where is_accepted), count(*) from marts.fct_completions"
        ).fetchone()
    assert (summary["tabby_files"], summary["tabby_quarantined"]) == (2, 4)
    assert any(k.startswith("client/ds=2026-11-03/import-tabby-") for k in
               [o.key for o in storage.list_objects(landing, "client", settings.storage)])  # fmt: skip
    assert shown == (1, 2)  # cmpl-5 (viewed after midnight, linked to its completion) and cmpl-9
