"""Which day a DAG run processes: derived explicitly, never guessed from `ds`."""

from __future__ import annotations

from datetime import date, datetime


def partition_date(
    logical_date: datetime | None,
    data_interval_start: datetime | None = None,
    override: str | date | None = None,
) -> date:
    """The landing partition (`ds=YYYY-MM-DD`) a run of `echo_daily` processes.

    - an explicit override (the `ds` Param of a manual run) wins;
    - otherwise the day of the logical date: on the daily data-interval timetable a
      scheduled or backfill run's logical date is its interval's start (the day it
      covers), and `airflow dags test echo_daily 2026-11-24` processes 2026-11-24
      (although Airflow gives that manual run the interval ending on that date);
    - a run with no logical date (Airflow 3 allows it) falls back to the interval start.
    """
    if override:
        return override if isinstance(override, date) else date.fromisoformat(str(override))
    if logical_date is not None:
        return logical_date.date()
    if data_interval_start is not None:
        return data_interval_start.date()
    raise ValueError("cannot derive the partition date: no override, logical date or interval")
