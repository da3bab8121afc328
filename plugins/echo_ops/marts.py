"""Analyst marts: rebuilt for one day from staging, in dependency order.

Reads staging.refinements, the server log (the A/B arm of each request) and the day's
imported completions (echo_ops.adapters), which it decides first into
staging.int_imported_completions_decided; writes one mart per SQL file under
include/sql/marts/ (docs/marts.md is the catalogue). Day marts (`MARTS`) replace the
day's partition; the small whole-history marts (`REBUILT_MARTS`: data-quality history,
model decisions) are rebuilt whole. Re-running a day is safe either way.
"""

from __future__ import annotations

from datetime import date

import duckdb

from echo_ops.logs import stage_run
from echo_ops.warehouse import read_sql, replace_partition, run_sql_file, table_exists

# Dependency order: a mart may read only marts listed before it.
MARTS = (
    "fct_completions",
    "rpt_daily_acceptance",
    "rpt_arm_user_daily",
    "rpt_acceptance_by_segment",
    "rpt_refinement_funnel",
    "rpt_serving_distributions",
    "rpt_pipeline_accounting",
)
# Whole history, rebuilt on every refresh: ops.dq_results and registry.models are small.
REBUILT_MARTS = ("rpt_dq_history", "rpt_model_decisions")


def refresh_marts(con: duckdb.DuckDBPyConnection, ds: date) -> dict[str, int]:
    """Rebuild every mart's partition for `day`; returns rows written per mart."""
    with stage_run("marts", ds=ds) as counts:
        for ddl in ("ddl/marts", "ddl/registry", "ddl/extract"):  # what the marts read, too
            run_sql_file(con, ddl)
        counts["imported_completions"] = decide_imported(con, ds)
        for name in MARTS:
            counts[name] = replace_partition(con, f"marts.{name}", read_sql(f"marts/{name}"), ds)
        for name in REBUILT_MARTS:
            counts[name] = rebuild(con, f"marts.{name}", read_sql(f"marts/{name}"))
    return {name: counts[name] for name in (*MARTS, *REBUILT_MARTS)}


def rebuild(con: duckdb.DuckDBPyConnection, table: str, select_sql: str) -> int:
    """Replace `table` whole with `select_sql`'s rows (one statement: readers of the
    warehouse see the old table or the new one); returns the rows written."""
    con.execute(f"create or replace table {table} as {select_sql}")
    (rows,) = con.execute(f"select count(*) from {table}").fetchone()
    return int(rows)


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
