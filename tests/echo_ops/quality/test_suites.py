"""Each check fails on data built to break it; results land in ops.dq_results and Data Docs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from echo_ops.config import get_settings
from echo_ops.quality import DataQualityError, run_suite
from tests.kit import CLIENT_COLUMNS, client_rows, given, insert

DAY = date(2026, 11, 20)


def _results(con, run_id):
    return {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "select expectation, success, severity from ops.dq_results where run_id = ?", [run_id]
        ).fetchall()
    }


def test_clean_day_passes_and_writes_one_row_per_check(wh, settings):
    insert(wh, "raw.client_events", client_rows(DAY, 40))
    res = run_suite(wh, "raw_client", DAY, get_settings())
    assert not res.failed_blocking and not res.warnings
    rows = _results(wh, res.run_id)
    assert {
        "event_id_unique",
        "ts_within_partition",
        "type_in_contract",
        "volume_vs_trailing_days",
    } <= set(rows)
    assert len(rows) == len(res.outcomes) and all(ok for ok, _ in rows.values())
    assert (settings.data_root / "quality" / "data_docs" / "index.html").is_file()
    (sampled,) = wh.execute(
        "select sampled from ops.dq_results where run_id = ? and expectation = 'type_in_contract'",
        [res.run_id],
    ).fetchone()
    assert sampled == "all 40 rows"


@pytest.mark.parametrize(
    ("breakage", "failed_check"),
    [
        ("dup_key", "event_id_unique"),
        ("null_user", "user_id_not_null"),
        ("bad_type", "type_in_contract"),
        ("ts_outside", "ts_within_partition"),
        ("empty", "day_not_empty"),
        ("missing_column", "table_schema"),
    ],
)
def test_blocking_check_fails_on_data_built_to_break_it(wh, settings, breakage, failed_check):
    rows, columns = client_rows(DAY, 20), CLIENT_COLUMNS
    if breakage == "dup_key":
        rows[5] = (*rows[5][:1], rows[4][1], *rows[5][2:])
    elif breakage == "null_user":  # the table forbids it; the check must catch it anyway
        wh.execute("alter table raw.client_events alter user_id drop not null")
        rows[3] = (*rows[3][:4], None, *rows[3][5:])
    elif breakage == "bad_type":
        rows[7] = (*rows[7][:2], "completion.exploded", *rows[7][3:])
    elif breakage == "ts_outside":
        rows[9] = (*rows[9][:3], datetime(2031, 1, 1), *rows[9][4:])
    elif breakage == "empty":
        rows = []
    elif breakage == "missing_column":
        wh.execute("alter table raw.client_events drop column session_id")
        rows = [r[:5] + r[6:] for r in rows]
        columns = [c for c in CLIENT_COLUMNS if c != "session_id"]
    given(wh, "raw.client_events", rows, columns)
    with pytest.raises(DataQualityError) as err:
        run_suite(wh, "raw_client", DAY, get_settings())
    msg = str(err.value)
    assert failed_check in msg.splitlines()[0]
    assert "Data Docs: " + str(settings.data_root / "quality" / "data_docs" / "index.html") in msg
    if breakage in ("dup_key", "null_user", "bad_type", "ts_outside"):
        assert "bad row:" in msg
    res = err.value.result
    assert _results(wh, res.run_id)[failed_check] == (False, "blocking")


def test_failure_message_shows_the_offending_rows(wh):
    rows = client_rows(DAY, 10)
    rows[2] = (*rows[2][:2], "completion.exploded", *rows[2][3:])
    insert(wh, "raw.client_events", rows)
    with pytest.raises(DataQualityError) as err:
        run_suite(wh, "raw_client", DAY, get_settings())
    assert "type=completion.exploded" in str(err.value) and f"event_id={rows[2][1]}" in str(
        err.value
    )


def test_volume_drop_and_acceptance_drift_warn_but_do_not_fail(wh):
    for back in range(1, 4):
        insert(
            wh, "raw.client_events", client_rows(DAY - timedelta(days=back), 100, accepted_every=1)
        )
    insert(wh, "raw.client_events", client_rows(DAY, 10, accepted_every=5))
    res = run_suite(wh, "raw_client", DAY, get_settings())
    assert not res.failed_blocking
    assert {w.name for w in res.warnings} == {"volume_vs_trailing_days", "acceptance_rate_drift"}
    rows = _results(wh, res.run_id)
    assert rows["volume_vs_trailing_days"] == (False, "warning")


def test_missing_table_is_a_blocking_failure(wh):
    wh.execute("drop table staging.int_completions_aligned_to_events")
    with pytest.raises(DataQualityError, match="table_exists"):
        run_suite(wh, "aligned", DAY, get_settings())


def test_big_day_is_sampled_and_says_so(wh, monkeypatch):
    from echo_ops.config import reset_settings_cache

    monkeypatch.setenv("ECHO_QUALITY__SAMPLE_ROWS", "25")
    reset_settings_cache()
    insert(wh, "raw.client_events", client_rows(DAY, 60))
    res = run_suite(wh, "raw_client", DAY, get_settings())
    by = {o.name: o.sampled for o in res.outcomes}
    assert by["type_in_contract"].startswith("reservoir sample of 25 of 60 rows")
    assert by["event_id_unique"] == "full day (DuckDB SQL)"


def test_unknown_suite_names_the_valid_ones(wh):
    with pytest.raises(ValueError, match="raw_client"):
        run_suite(wh, "raw_clients", DAY, get_settings())


def test_severity_override_from_the_environment_makes_a_warning_block(wh, monkeypatch):
    from echo_ops.config import reset_settings_cache

    monkeypatch.setenv(
        "ECHO_QUALITY__SEVERITY_OVERRIDES", '{"raw_client.volume_vs_trailing_days": "blocking"}'
    )
    reset_settings_cache()
    for back in (1, 2):
        insert(wh, "raw.client_events", client_rows(DAY - timedelta(days=back), 100))
    insert(wh, "raw.client_events", client_rows(DAY, 10))
    with pytest.raises(DataQualityError, match="volume_vs_trailing_days"):
        run_suite(wh, "raw_client", DAY, get_settings())


def test_severity_override_naming_no_check_fails_loudly(monkeypatch):
    from echo_ops.config import reset_settings_cache
    from echo_ops.quality import get_suite

    monkeypatch.setenv(
        "ECHO_QUALITY__SEVERITY_OVERRIDES", '{"raw_client.no_such_check": "warning"}'
    )
    reset_settings_cache()
    with pytest.raises(ValueError, match="no_such_check"):
        get_suite("raw_client", get_settings())


def test_data_docs_show_the_full_day_sql_checks_too(wh, settings):
    rows = client_rows(DAY, 10)
    rows[1] = (*rows[1][:1], rows[0][1], *rows[1][2:])
    insert(wh, "raw.client_events", rows)
    with pytest.raises(DataQualityError):
        run_suite(wh, "raw_client", DAY, get_settings())
    docs = settings.data_root / "quality" / "data_docs"
    pages = [p.read_text() for p in docs.rglob("*.html") if "raw_client__full_day_sql" in str(p)]
    assert pages and any("event_id_unique" in p and "1 duplicate event_id rows" in p for p in pages)


def _marts_day(con, day, unaccounted=0, rate=0.5):
    given(con, "marts.rpt_daily_acceptance", [(day, "m1", 4, 2, rate, "echo")],
          columns=("ds", "model_version", "shown_count", "accepted_count", "acceptance_rate",
                   "client"))  # fmt: skip
    given(con, "marts.rpt_pipeline_accounting", [
        (day, "ingest", 10, 9, 1, 0, 0), (day, "extract", 4, 2, 0, 2 - unaccounted, unaccounted),
    ], columns=("ds", "stage", "rows_in", "rows_out", "quarantined", "deferred", "unaccounted"))  # fmt: skip


def test_marts_suite_passes_a_consistent_day(wh):
    _marts_day(wh, DAY - timedelta(days=1))
    _marts_day(wh, DAY)
    res = run_suite(wh, "marts", DAY, get_settings())
    assert not res.failed_blocking
    assert set(_results(wh, res.run_id)) == {
        "table_schema", "day_not_empty", "books_balance", "no_day_missing",
        "acceptance_rate_in_range",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("days", "unaccounted", "rate", "failed"),
    [
        ([DAY], 1, 0.5, "books_balance"),
        ([DAY - timedelta(days=2), DAY], 0, 0.5, "no_day_missing"),  # the day between is missing
        ([DAY], 0, 1.5, "acceptance_rate_in_range"),
    ],
)
def test_marts_suite_blocks_what_analysts_must_not_get(wh, days, unaccounted, rate, failed):
    for day in days:
        _marts_day(wh, day, unaccounted if day == DAY else 0, rate if day == DAY else 0.5)
    with pytest.raises(DataQualityError, match=failed) as err:
        run_suite(wh, "marts", DAY, get_settings())
    assert [o.name for o in err.value.result.failed_blocking] == [failed]
