"""The YAML notes beside the SQL say what the code does: checks, and column meanings."""

from __future__ import annotations

import duckdb
import yaml

from echo_ops.catalog import apply_comments, column_comments, table_notes
from echo_ops.config import SQL_DIR, QualitySettings
from echo_ops.quality.suites import build_suites, documented_checks
from echo_ops.warehouse import ensure_pipeline_tables, run_sql_file


def test_every_suite_is_documented_by_the_note_of_its_table_word_for_word():
    notes = table_notes()
    for suite in build_suites(QualitySettings()).values():
        note = notes.get(suite.table)
        assert note is not None, f"no YAML note with `model: {suite.table}` under {SQL_DIR}"
        expected = documented_checks(suite)
        assert note.get("suite") == suite.name and note.get("checks") == expected, (
            f"{note['path']} disagrees with quality suite {suite.name}; its checks should read:\n"
            + yaml.safe_dump({"suite": suite.name, "checks": expected}, sort_keys=False, width=200)
        )


def test_a_note_without_a_suite_lists_what_checks_it_instead():
    suite_tables = {s.table for s in build_suites(QualitySettings()).values()}
    for table, note in table_notes().items():
        if table not in suite_tables:
            assert "checks" not in note, f"{note['path']}: checks nothing runs; use checked_by"
            assert note.get("checked_by"), f"{note['path']}: say what checks {table}"


def test_column_meanings_reach_duckdb_and_survive_a_repeat():
    con = duckdb.connect()
    for ddl in ("ddl/schemas", "ddl/ops", "ddl/training", "ddl/marts", "ddl/registry"):
        run_sql_file(con, ddl)
    ensure_pipeline_tables(con)
    n = apply_comments(con)
    assert n == apply_comments(con) and n > 50
    comment = dict(
        con.execute(
            "select column_name, comment from duckdb_columns() "
            "where schema_name = 'staging' and table_name = 'refinements'"
        ).fetchall()
    )
    assert comment["ds"] == column_comments()[("staging.refinements", "ds")]
    assert "first day its data was complete" in comment["ds"]
    (about,) = con.execute(
        "select comment from duckdb_tables() where schema_name = 'raw' and table_name = 'client_events'"
    ).fetchone()
    assert about.startswith("Editor telemetry as delivered")
