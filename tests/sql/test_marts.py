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


def given_refinements(con) -> None:
    """ROWS as staging.refinements (request ids r-<completion id>, shown on their own day)."""
    given(con, "staging.refinements", [
        {**dict(zip(COLUMNS, row, strict=True)), "shown_at": datetime(2026, 11, 2, 10),
         "request_id": f"r-{row[1]}", "session_id": "s", "doc_uri": "file:///a.py",
         "shown_ds": row[0], "settled_at": datetime(2026, 11, 2, 10, 5), "touching_edits": 0,
         "trajectory_json": "[]"}
        for row in ROWS
    ])  # fmt: skip


@pytest.fixture
def con():
    con = warehouse()
    given_refinements(con)
    # the server log: c1..c3 served in an A/B (u1 control, u2 treatment), plus requests
    # that were never shown; c4 and c0 outside any experiment
    given(con, "raw.server_events", [
        ("2026-11-02", "r-c1", "m1", "control", "u1"), ("2026-11-02", "r-c2", "m1", "control", "u1"),
        ("2026-11-02", "r-x1", "m1", "control", "u1"), ("2026-11-02", "r-c3", "m1", "treatment", "u2"),
        ("2026-11-02", "r-x2", "m3", "treatment", "u2"), ("2026-11-02", "r-c4", "m2", None, None),
        ("2026-11-01", "r-c0", "m1", "treatment", "u2"),
    ], columns=("ds", "request_id", "model_version", "arm", "user_id"))  # fmt: skip
    return con


def test_arm_report_counts_requests_from_the_server_and_outcomes_from_the_editor(con):
    refresh_marts(con, DAY)
    assert con.execute(
        "select completion_id, arm from marts.fct_completions order by 1"
    ).fetchall() == [("c1", "control"), ("c2", "control"), ("c3", "treatment"), ("c4", None)]
    rows = con.execute(
        "select arm, model_version, user_id, request_count, shown_count, accepted_count, "
        "accepted_retained_chars from marts.rpt_arm_user_daily order by 1, 2"
    ).fetchall()
    assert rows == [
        ("control", "m1", "u1", 3, 2, 2, 6),
        ("treatment", "m1", "u2", 1, 1, 0, 0),
        ("treatment", "m3", "u2", 1, 0, 0, 0),
    ]


def test_daily_acceptance_report(con):
    written = refresh_marts(con, DAY)
    assert {k: written[k] for k in ("fct_completions", "rpt_daily_acceptance")} == {
        "fct_completions": 4,
        "rpt_daily_acceptance": 2,
    }
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


def test_refinement_funnel_by_model_arm_and_outcome(con):
    refresh_marts(con, DAY)
    rows = con.execute(
        "select model_version, arm, outcome, completion_count, share_of_shown, avg_edit_distance, "
        "avg_kept_rate from marts.rpt_refinement_funnel order by 1, 2, 3"
    ).fetchall()
    assert rows == [
        ("m1", "control", "accepted_kept", 1, 0.5, 0.0, 1.0),
        ("m1", "control", "accepted_refined", 1, 0.5, 1.0, 0.75),
        ("m1", "treatment", "rejected_written", 1, 1.0, 2.0, 0.0),
        ("m2", "none", "rejected_empty", 1, 1.0, 1.0, 0.0),
    ]


def test_serving_distributions_from_the_server_log_and_the_completions(con):
    con.execute(
        "update raw.server_events set latency_ms = case request_id when 'r-c1' then 10 "
        "when 'r-c2' then 20 when 'r-x1' then 30 when 'r-c3' then 40 else 5 end"
    )
    refresh_marts(con, DAY)
    rows = con.execute(
        "select model_version, request_count, latency_ms_p50, latency_ms_p90, latency_ms_p99, "
        "shown_count, edit_distance_p50, edit_distance_p90, proposal_chars_p50 "
        "from marts.rpt_serving_distributions order by 1"
    ).fetchall()
    assert rows == [
        ("m1", 4, 25.0, 37.0, 39.7, 3, 1.0, 1.8, 3.0),
        ("m2", 1, 5.0, 5.0, 5.0, 1, 1.0, 1.0, 1.0),
        ("m3", 1, 5.0, 5.0, 5.0, 0, None, None, None),  # requested, never shown
    ]


def test_pipeline_accounting_books_per_stage(con):
    given(con, "ops.quarantine", [(DAY, "ingest", "bad json"), (DAY, "ingest", "too long"),
                                  (date(2026, 11, 1), "ingest", "bad json"),
                                  (DAY, "extract", "doc_version_gap")],
          columns=("ds", "stage", "reason"))  # fmt: skip
    given(con, "ops.extract_accounting", [(DAY, 5, 3, 1, 1, 0)],
          columns=("ds", "shown", "extracted", "deferred", "quarantined", "unaccounted"))  # fmt: skip
    refresh_marts(con, DAY)
    rows = con.execute(
        "select stage, rows_in, rows_out, quarantined, deferred, unaccounted "
        "from marts.rpt_pipeline_accounting order by 1"
    ).fetchall()
    # ingest: 6 server lines of the day loaded (no client lines given), 2 refused
    assert rows == [("extract", 5, 3, 1, 1, 0), ("ingest", 8, 6, 2, 0, 0)]


def test_dq_history_keeps_each_days_latest_run_of_each_suite(con):
    at = lambda h: datetime(2026, 11, 2, h)  # noqa: E731
    given(con, "ops.dq_results", [
        ("r1", DAY, "raw_client", "keys_unique", True, at(10)),
        ("r1", DAY, "raw_client", "volume", True, at(10)),
        ("r2", DAY, "raw_client", "keys_unique", False, at(11)),  # the re-run replaces r1
        ("r3", DAY, "refinements", "outcomes_known", True, at(10)),
        ("r4", date(2026, 11, 1), "raw_client", "volume", True, at(9)),
    ], columns=("run_id", "ds", "suite", "expectation", "success", "checked_at"))  # fmt: skip
    refresh_marts(con, DAY)
    rows = con.execute(
        "select ds, suite, expectation, success, run_id from marts.rpt_dq_history order by 1, 2, 3"
    ).fetchall()
    assert rows == [
        (date(2026, 11, 1), "raw_client", "volume", True, "r4"),
        (DAY, "raw_client", "keys_unique", False, "r2"),
        (DAY, "refinements", "outcomes_known", True, "r3"),
    ]


def test_model_decisions_show_offline_estimate_beside_online_result(con):
    import json

    metrics = {
        "eval": {"loss": 3.5}, "champion_eval": {"loss": 3.9},
        "offline": {"primary": {"metric": "accepted_per_request", "diff": 0.02,
                                "ci": [0.005, 0.04]}},
        "online": {"from": "2026-11-03", "to": "2026-11-04",
                   "acceptance": {"diff": -0.05, "diff_ci": [-0.09, -0.01]},
                   "treatment": {"shown": 420}, "control": {"shown": 400}},
    }  # fmt: skip
    given(con, "registry.models", [
        ("base", "archived", None, "/m/base", None, "{}", "bootstrap", None),
        ("ft1", "rejected", "base", "/m/ft1", '{"from": "2026-11-01", "to": "2026-11-02", '
         '"examples": 900}', json.dumps(metrics), "fine_tune", "rolled back: online drop"),
    ], columns=("model_id", "status", "parent_id", "artifact_uri", "data_window",
                "metrics_json", "kind", "decided_reason"))  # fmt: skip
    refresh_marts(con, DAY)
    rows = con.execute(
        "select model_id, is_rolled_back, window_from, window_examples, offline_metric, "
        "offline_diff, offline_diff_ci_low, eval_loss, champion_eval_loss, online_from, "
        "online_acceptance_diff, online_acceptance_diff_ci_high, online_shown_treatment "
        "from marts.rpt_model_decisions order by model_id"
    ).fetchall()
    assert rows == [
        ("base", False, None, None, None, None, None, None, None, None, None, None, None),
        ("ft1", True, date(2026, 11, 1), 900, "accepted_per_request", 0.02, 0.005, 3.5, 3.9,
         date(2026, 11, 3), -0.05, -0.01, 420),
    ]  # fmt: skip


def test_acceptance_by_model_arm_language_and_client(con):
    con.execute("update staging.refinements set language_id = 'sql', outcome = "
                "'partial_accepted' where completion_id = 'c2'")  # fmt: skip
    refresh_marts(con, DAY)
    rows = con.execute(
        "select model_version, arm, language_id, client, shown_count, accepted_count, "
        "partial_accepted_count, acceptance_rate, accepted_retained_chars "
        "from marts.rpt_acceptance_by_segment order by 1, 2, 3"
    ).fetchall()
    assert rows == [
        ("m1", "control", "python", "echo", 1, 1, 0, 1.0, 3),
        ("m1", "control", "sql", "echo", 1, 1, 1, 1.0, 3),
        ("m1", "treatment", "python", "echo", 1, 0, 0, 0.0, 0),
        ("m2", "none", "python", "echo", 1, 0, 0, 0.0, 0),
    ]


def test_acceptance_is_keyed_by_the_day_shown_whichever_run_extracted_it(con):
    # c3 was shown on 11-01 and settled (was extracted) only by the 11-02 run
    con.execute("update staging.refinements set shown_ds = '2026-11-01' where completion_id = 'c3'")
    refresh_marts(con, date(2026, 11, 1))
    refresh_marts(con, DAY)
    by_day = con.execute(
        "select ds, model_version, shown_count, accepted_count from marts.rpt_daily_acceptance "
        "order by 1, 2"
    ).fetchall()
    assert by_day == [
        (date(2026, 11, 1), "m1", 2, 1),  # c0 (extracted 11-01) and c3 (extracted 11-02)
        (DAY, "m1", 2, 2),
        (DAY, "m2", 1, 0),
    ]
    assert con.execute(
        "select ds, shown_ds from marts.fct_completions where completion_id = 'c3'"
    ).fetchone() == (DAY, date(2026, 11, 1))  # the fact stays in its extraction partition
    refresh_marts(con, DAY)  # re-running is safe: the same rows
    assert (
        con.execute(
            "select ds, model_version, shown_count, accepted_count from marts.rpt_daily_acceptance "
            "order by 1, 2"
        ).fetchall()
        == by_day
    )
