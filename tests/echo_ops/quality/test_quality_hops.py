"""The later hops' own checks: refinements' value sets and ranges, training-set safety and leakage."""

from __future__ import annotations

from datetime import date

import pytest

from echo_ops.config import get_settings
from echo_ops.quality import DataQualityError, run_suite
from tests.kit import example_rows, insert, refinement_rows

DAY = date(2026, 11, 20)


def _fail(con, suite):
    with pytest.raises(DataQualityError) as err:
        run_suite(con, suite, DAY, get_settings())
    return err.value


def test_clean_refinements_and_training_set_pass(wh):
    insert(wh, "staging.refinements", refinement_rows(DAY, 12))
    insert(wh, "training.examples", example_rows(DAY, 12))
    assert not run_suite(wh, "refinements", DAY, get_settings()).failed_blocking
    assert not run_suite(wh, "training_set", DAY, get_settings()).failed_blocking


@pytest.mark.parametrize(
    ("col", "value", "check"),
    [
        (14, "accepted_maybe", "outcome_in_set"),
        (18, -3, "edit_distance_non_negative"),
        (19, 1.7, "kept_rate_is_share"),
        (16, "eventually", "settled_reason_in_set"),
    ],
)
def test_refinement_value_checks_fail_on_bad_values(wh, col, value, check):
    rows = refinement_rows(DAY, 8)
    rows[1] = (*rows[1][:col], value, *rows[1][col + 1 :])
    insert(wh, "staging.refinements", rows)
    err = _fail(wh, "refinements")
    assert [o.name for o in err.result.failed_blocking] == [check]
    assert "bad row: " in str(err)


def test_edit_distance_distribution_drift_only_warns(wh):
    rows = [(*r[:18], 5000, *r[19:]) for r in refinement_rows(DAY, 8)]
    insert(wh, "staging.refinements", rows)
    res = run_suite(wh, "refinements", DAY, get_settings())
    assert [w.name for w in res.warnings] == ["edit_distance_median"]


def test_opted_out_user_in_training_set_blocks(wh):
    insert(wh, "training.examples", example_rows(DAY, 6))
    wh.execute("insert into ops.consent values ('u1', true, now())")
    err = _fail(wh, "training_set")
    assert [o.name for o in err.result.failed_blocking] == ["no_opted_out_users"]
    assert "user_id=u1" in str(err)


def test_file_on_both_sides_of_the_split_blocks(wh):
    rows = example_rows(DAY, 6)
    rows[4] = (*rows[4][:5], rows[3][5], *rows[4][6:10], "eval")
    insert(wh, "training.examples", rows)
    assert [o.name for o in _fail(wh, "training_set").result.failed_blocking] == [
        "no_file_on_both_sides"
    ]


def test_secret_in_training_text_blocks_without_echoing_it(wh):
    key = "AKIAQ3EGRUZ7XK2LMN4P"
    rows = example_rows(DAY, 6)
    rows[2] = (*rows[2][:8], f"key = '{key}'", *rows[2][9:])
    insert(wh, "training.examples", rows)
    err = _fail(wh, "training_set")
    assert [o.name for o in err.result.failed_blocking] == ["no_secrets_in_text"]
    assert key not in str(err) and "<REDACTED:aws_access_key>" in str(err)
    (details,) = wh.execute(
        "select details_json from ops.dq_results where expectation = 'no_secrets_in_text'"
    ).fetchone()
    assert key not in details


def test_aligned_missing_server_lines_warn_and_dup_completion_blocks(wh):
    from tests.kit import aligned_rows

    insert(wh, "staging.int_completions_aligned_to_events", aligned_rows(DAY, 10, without_server=3))
    res = run_suite(wh, "aligned", DAY, get_settings())
    assert [w.name for w in res.warnings] == ["server_line_found"]
    insert(wh, "staging.int_completions_aligned_to_events", aligned_rows(DAY, 1))
    assert [o.name for o in _fail(wh, "aligned").result.failed_blocking] == ["completion_id_unique"]


def test_raw_server_negative_latency_and_null_model_block(wh):
    from datetime import datetime

    base = datetime(2026, 11, 20, 9)
    rows = [(DAY, f"r{i}", base, "m1", "p", "s", "c", 40 + i, "k", i, "{}") for i in range(6)]
    rows[1] = (*rows[1][:7], -5, *rows[1][8:])
    rows[2] = (*rows[2][:3], None, *rows[2][4:])
    wh.execute("alter table raw.server_events alter model_version drop not null")
    insert(wh, "raw.server_events", rows)
    failed = {o.name for o in _fail(wh, "raw_server").result.failed_blocking}
    assert failed == {"latency_ms_in_range", "model_version_not_null"}


def test_length_and_edit_distance_distribution_shift_warns(wh):
    from datetime import timedelta

    for back in (1, 2):
        insert(wh, "staging.refinements", refinement_rows(DAY - timedelta(days=back), 8))
    rows = [(*r[:15], r[15] * 40, *r[16:]) for r in refinement_rows(DAY, 8)]
    insert(wh, "staging.refinements", rows)
    res = run_suite(wh, "refinements", DAY, get_settings())
    assert not res.failed_blocking
    assert {"final_text_length_p50_drift", "final_text_length_p90_drift"} <= {
        w.name for w in res.warnings
    }
    assert "edit_distance_p50_drift" not in {w.name for w in res.warnings}
