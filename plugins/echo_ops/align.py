"""Align: join the completions an editor showed with the server requests that made them.

Reads the lookback window of staging.stg_telemetry__editor_events and
staging.stg_model_server__completions (views over raw; the task layer ingests any landing
day of the window not loaded yet first) and writes staging.int_completions_aligned_to_events
(partition ds: the run's candidates).
Everything a day's partition reads is landing data <= ds: re-runs and backfills in any
order give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from echo_ops.config import Settings
from echo_ops.logs import stage_run
from echo_ops.warehouse import ensure_pipeline_tables, read_sql, replace_partition


@dataclass(frozen=True)
class AlignResult:
    ds: date
    candidates: int
    shown_today: int
    with_server: int
    without_server: int
    server_mismatch: int
    server_only: int  # requests of day ds no shown completion refers to (gated out, or not yet)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "ds"}


def window(ds: date, lookback_days: int) -> list[date]:
    """The landing days a run of `ds` reads: twice the lookback (a late shown event's
    document edits may have landed a day before it)."""
    return [ds - timedelta(days=n) for n in range(2 * lookback_days, -1, -1)]


def align_day(con: duckdb.DuckDBPyConnection, ds: date, settings: Settings) -> AlignResult:
    """Build day ds's aligned candidates; safe to re-run."""
    lookback = settings.extract.align_lookback_days
    ensure_pipeline_tables(con)
    with stage_run("align", ds=ds, lookback_days=lookback) as counts:
        days = window(ds, lookback)
        params = {"lo": days[0], "shown_lo": ds - timedelta(days=lookback)}
        replace_partition(
            con,
            "staging.int_completions_aligned_to_events",
            read_sql("int_completions_aligned_to_events"),
            ds,
            params,
        )
        row = con.execute(
            "select count(*), count(*) filter (shown_ds = $ds), count(*) filter (has_server), "
            "count(*) filter (not has_server), count(*) filter (not server_matches_proposal) "
            "from staging.int_completions_aligned_to_events where ds = $ds",
            {"ds": ds},
        ).fetchone()
        (server_only,) = con.execute(
            "select count(*) from staging.stg_model_server__completions as s where s.ds = $ds "
            "and not exists (select 1 from staging.int_completions_aligned_to_events as a "
            "where a.ds = $ds and a.request_id = s.request_id)",
            {"ds": ds},
        ).fetchone()
        result = AlignResult(ds, *(int(v) for v in row), int(server_only))
        counts.update(result.counts())
    return result


def aligned(con: duckdb.DuckDBPyConnection, ds: date) -> bool:
    """Has align run for day ds?"""
    return bool(
        con.execute(
            "select count(*) from ops.run_log where stage = 'align' and ds = ? and status = 'success'",
            [ds],
        ).fetchone()[0]
        or con.execute(
            "select count(*) from staging.int_completions_aligned_to_events where ds = ?", [ds]
        ).fetchone()[0]
    )
