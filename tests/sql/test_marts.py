"""Marts from literal refinement rows, compared with literal expected rows."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from echo_ops.marts import refresh_marts
from tests.kit import given, warehouse

DAY = date(2026, 11, 2)
# The refinement columns the marts read; the table itself comes from include/sql/ddl.
COLUMNS = ("ds", "completion_id", "user_id", "model_version", "language_id", "outcome",
           "accept_kind", "settled_reason", "proposal_text", "final_text",
           "accepted_retained_chars", "edit_distance", "kept_rate")  # fmt: skip
ROWS = [
    (
        "2026-11-02",
        "c1",
        "u1",
        "m1",
        "python",
        "accepted_kept",
        "full",
        "quiet",
        "abc",
        "abc",
        3,
        0,
        1.0,
    ),
    (
        "2026-11-02",
        "c2",
        "u1",
        "m1",
        "python",
        "accepted_refined",
        "full",
        "saved",
        "abcd",
        "abXd",
        3,
        1,
        0.75,
    ),
    (
        "2026-11-02",
        "c3",
        "u2",
        "m1",
        "python",
        "rejected_written",
        None,
        "quiet",
        "zz",
        "yy",
        0,
        2,
        0.0,  # extraction writes 0 for a rejected proposal (nothing of it retained)
    ),
    (
        "2026-11-02",
        "c4",
        "u2",
        "m2",
        "python",
        "rejected_empty",
        None,
        "horizon",
        "q",
        "",
        0,
        1,
        0.0,
    ),
    (
        "2026-11-01",
        "c0",
        "u2",
        "m1",
        "python",
        "accepted_kept",
        "full",
        "quiet",
        "a",
        "a",
        1,
        0,
        1.0,
    ),
]


@pytest.fixture
def con():
    con = warehouse()
    given(con, "staging.refinements", [
        {**dict(zip(COLUMNS, row, strict=True)), "shown_at": datetime(2026, 11, 2, 10),
         "request_id": f"r-{row[1]}", "session_id": "s", "doc_uri": "file:///a.py",
         "shown_ds": row[0], "settled_at": datetime(2026, 11, 2, 10, 5), "touching_edits": 0,
         "trajectory_json": "[]"}
        for row in ROWS
    ])  # fmt: skip
    return con


def test_daily_acceptance_report(con):
    assert refresh_marts(con, DAY) == {"fct_completions": 4, "rpt_daily_acceptance": 2}
    rows = con.execute(
        "select model_version, shown_count, accepted_count, kept_verbatim_count, acceptance_rate, "
        "avg_kept_rate, accepted_retained_chars from marts.rpt_daily_acceptance order by 1"
    ).fetchall()
    assert rows == [("m1", 3, 2, 1, 0.6667, 0.875, 6), ("m2", 1, 0, 0, 0.0, None, 0)]


def test_fact_flags_and_sizes(con):
    refresh_marts(con, DAY)
    rows = con.execute(
        "select completion_id, is_accepted, is_kept_verbatim, proposal_chars, final_chars "
        "from marts.fct_completions order by 1"
    ).fetchall()
    assert rows == [
        ("c1", True, True, 3, 3),
        ("c2", True, False, 4, 4),
        ("c3", False, False, 2, 2),
        ("c4", False, False, 1, 0),
    ]


def test_refresh_is_idempotent_and_leaves_other_days(con):
    refresh_marts(con, date(2026, 11, 1))
    refresh_marts(con, DAY)
    first = con.execute("select * from marts.fct_completions order by completion_id").fetchall()
    refresh_marts(con, DAY)
    assert (
        con.execute("select * from marts.fct_completions order by completion_id").fetchall()
        == first
    )
    assert con.execute(
        "select count(*) from marts.fct_completions where ds = '2026-11-01'"
    ).fetchone() == (1,)
