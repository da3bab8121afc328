"""Accounting: every completion shown on a day is extracted, deferred or quarantined.

Reads staging.stg_telemetry__editor_events (what was shown), staging.refinements,
ops.extract_deferrals and ops.quarantine for day ds; writes ops.extract_accounting
(one row for ds, replaced on re-run) and fails when the books do not balance.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb

from echo_ops.config import get_settings
from echo_ops.logs import get_logger

log = get_logger("accounting")


class AccountingError(ValueError):
    """Completions shown on a day are missing from every outcome table."""


def record_accounting(con: duckdb.DuckDBPyConnection, ds: date) -> dict:
    """Count day ds's completions by fate, store the row, raise AccountingError if unbalanced."""
    lookback = get_settings().extract.align_lookback_days
    shown = _shown_first_on(con, ds, lookback)
    q = {"ds": ds}
    extracted = _one(
        con, "select count(*) from staging.refinements where ds = $ds and shown_ds = $ds", q
    )
    deferred = _one(
        con, "select count(*) from ops.extract_deferrals where ds = $ds and shown_ds = $ds", q
    )
    quarantined_rows = con.execute(
        "select split_part(reason, ':', 1), count(*) from ops.quarantine q "
        "join staging.int_completions_aligned_to_events a "
        "  on a.ds = q.ds and q.object_key = 'completion:' || a.completion_id "
        "where q.ds = $ds and q.stage = 'extract' and a.shown_ds = $ds group by 1 order by 1",
        q,
    ).fetchall()
    quarantined = sum(n for _, n in quarantined_rows)
    row = {
        "ds": ds,
        "shown": shown,
        "extracted": extracted,
        "deferred": deferred,
        "quarantined": quarantined,
        "unaccounted": shown - extracted - deferred - quarantined,
        "quarantined_by_reason_json": json.dumps(dict(quarantined_rows)),
        **_carried(con, ds),
        "ingest_quarantined_by_reason_json": json.dumps(_ingest_reasons(con, ds)),
    }
    con.execute("delete from ops.extract_accounting where ds = ?", [ds])
    con.execute(
        f"insert into ops.extract_accounting ({', '.join(row)}) values ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    log.info("accounting %s", " ".join(f"{k}={v}" for k, v in row.items()))
    if row["unaccounted"] != 0:
        raise AccountingError(
            f"extract {ds}: shown={shown} but extracted={extracted} + deferred={deferred} + "
            f"quarantined={quarantined} leaves {row['unaccounted']} unaccounted"
        )
    return row


def _one(con, sql: str, params: dict) -> int:
    return int(con.execute(sql, params).fetchone()[0])


def _shown_first_on(con, ds: date, lookback: int) -> int:
    """Distinct completions whose shown event first landed on ds (copies on earlier days excluded)."""
    return _one(
        con,
        """
        with shown as (
            select completion_id, ds
            from staging.stg_telemetry__editor_events
            where event_type = 'completion.shown' and ds between $lo and $ds
                and import_source is null  -- imports skip extraction (docs/imports.md)
        )
        select count(*) from (
            select completion_id from shown group by completion_id having min(ds) = $ds
        )
        """,
        {"ds": ds, "lo": ds - timedelta(days=2 * lookback)},
    )


def _carried(con, ds: date) -> dict[str, int]:
    q = {"ds": ds}
    return {
        "carried_extracted": _one(
            con, "select count(*) from staging.refinements where ds = $ds and shown_ds < $ds", q
        ),
        "carried_quarantined": _one(
            con,
            "select count(*) from ops.quarantine q join staging.int_completions_aligned_to_events a "
            "on a.ds = q.ds and q.object_key = 'completion:' || a.completion_id "
            "where q.ds = $ds and q.stage = 'extract' and a.shown_ds < $ds",
            q,
        ),
        "carried_deferred": _one(
            con, "select count(*) from ops.extract_deferrals where ds = $ds and shown_ds < $ds", q
        ),
    }


def _ingest_reasons(con, ds: date) -> dict[str, int]:
    return dict(
        con.execute(
            "select split_part(reason, ':', 1), count(*) from ops.quarantine "
            "where ds = ? and stage = 'ingest' group by 1 order by 1",
            [ds],
        ).fetchall()
    )
