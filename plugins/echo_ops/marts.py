"""Analyst marts: rebuilt for one day from staging, in dependency order.

Reads staging.refinements; writes marts.fct_completions and marts.rpt_daily_acceptance
(one SQL file each under include/sql/marts/). Re-running a day is safe: each mart's
day is replaced whole.
"""

from __future__ import annotations

from datetime import date

import duckdb

from echo_ops.logs import stage_run
from echo_ops.warehouse import read_sql, replace_partition, run_sql_file

# Dependency order: a mart may read only marts listed before it.
MARTS = ("fct_completions", "rpt_daily_acceptance")


def refresh_marts(con: duckdb.DuckDBPyConnection, ds: date) -> dict[str, int]:
    """Rebuild every mart's partition for `day`; returns rows written per mart."""
    with stage_run("marts", ds=ds) as counts:
        run_sql_file(con, "ddl/marts")
        for name in MARTS:
            counts[name] = replace_partition(con, f"marts.{name}", read_sql(f"marts/{name}"), ds)
    return {name: counts[name] for name in MARTS}
