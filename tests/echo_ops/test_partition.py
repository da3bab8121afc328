from datetime import UTC, date, datetime

import pytest

from echo_ops.partition import partition_date


def _dt(*args):
    return datetime(*args, tzinfo=UTC)


def test_scheduled_run_processes_its_interval_day():
    # CronDataIntervalTimetable: the run for [11-24, 11-25) has logical date 11-24.
    assert partition_date(_dt(2026, 11, 24), _dt(2026, 11, 24)) == date(2026, 11, 24)


def test_dags_test_run_processes_the_named_day():
    # `airflow dags test echo_daily 2026-11-24` gets the interval [11-23, 11-24).
    assert partition_date(_dt(2026, 11, 24), _dt(2026, 11, 23)) == date(2026, 11, 24)


def test_param_override_wins():
    assert partition_date(_dt(2026, 11, 24), _dt(2026, 11, 24), "2026-11-02") == date(2026, 11, 2)


def test_no_logical_date_falls_back_to_interval_start():
    assert partition_date(None, _dt(2026, 11, 20, 0, 0)) == date(2026, 11, 20)


def test_nothing_to_go_on_is_an_error():
    with pytest.raises(ValueError, match="partition date"):
        partition_date(None, None)
    with pytest.raises(ValueError):
        partition_date(None, None, "24/11/2026")
