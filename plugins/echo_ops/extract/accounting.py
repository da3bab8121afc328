"""Accounting: every completion shown on a day is extracted, deferred or quarantined.

Reads staging.stg_telemetry__editor_events (what was shown), staging.refinements,
ops.extract_deferrals and ops.quarantine for day ds; writes ops.extract_accounting
(one row for ds, replaced on re-run; include/sql/ops/extract_accounting.sql) and fails
when the books do not balance.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from echo_ops.errors import DataError
from echo_ops.logs import get_logger
from echo_ops.warehouse import read_sql, replace_partition

log = get_logger("accounting")


class AccountingError(DataError):
    """Completions shown on a day are missing from every outcome table."""


def record_accounting(con: duckdb.DuckDBPyConnection, ds: date, lookback: int) -> dict:
    """Count day ds's completions by fate, store the row, raise AccountingError if unbalanced.

    `lookback`: extract.align_lookback_days (how far back a shown event may have landed)."""
    params = {"lo": ds - timedelta(days=2 * lookback)}
    replace_partition(con, "ops.extract_accounting", read_sql("ops/extract_accounting"), ds, params)
    cur = con.execute("select * from ops.extract_accounting where ds = ?", [ds])
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    log.info("accounting %s", " ".join(f"{k}={v}" for k, v in row.items()))
    if row["unaccounted"] != 0:
        raise AccountingError(
            f"extract {ds}: shown={row['shown']} but extracted={row['extracted']} + "
            f"deferred={row['deferred']} + quarantined={row['quarantined']} leaves "
            f"{row['unaccounted']} unaccounted"
        )
    return row
