"""Analyst marts: rebuilt for one day from staging, in dependency order.

Reads staging.refinements, the server log (the A/B arm of each request) and the day's
imported completions (echo_ops.adapters), which it decides first into
staging.int_imported_completions_decided; writes marts.fct_completions,
marts.rpt_daily_acceptance and marts.rpt_arm_user_daily (one SQL file each under
include/sql/marts/). Re-running a day is safe: each table's day is replaced whole.
"""

from __future__ import annotations

from datetime import date

import duckdb

from echo_ops.logs import stage_run
from echo_ops.warehouse import read_sql, replace_partition, run_sql_file, table_exists

# Dependency order: a mart may read only marts listed before it.
MARTS = ("fct_completions", "rpt_daily_acceptance", "rpt_arm_user_daily")


def refresh_marts(con: duckdb.DuckDBPyConnection, ds: date) -> dict[str, int]:
    """Rebuild every mart's partition for `day`; returns rows written per mart."""
    with stage_run("marts", ds=ds) as counts:
        run_sql_file(con, "ddl/marts")
        counts["imported_completions"] = decide_imported(con, ds)
        for name in MARTS:
            counts[name] = replace_partition(con, f"marts.{name}", read_sql(f"marts/{name}"), ds)
    return {name: counts[name] for name in MARTS}


def decide_imported(con: duckdb.DuckDBPyConnection, ds: date) -> int:
    """The day's completions imported from Continue / Tabby, with their decision; rows written."""
    run_sql_file(con, "ddl/imports")
    if not table_exists(con, "staging.stg_telemetry__editor_events"):
        return 0  # nothing was ever ingested
    return replace_partition(
        con,
        "staging.int_imported_completions_decided",
        read_sql("intermediate/int_imported_completions_decided"),
        ds,
    )
