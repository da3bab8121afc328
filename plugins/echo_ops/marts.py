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

# Dependency order: a mart may read only marts listed before it. fct_completions is keyed by
# the day its refinement was extracted; the others by the day a completion was shown.
SHOWN_DAY_MARTS = (
    "rpt_daily_acceptance",
    "rpt_arm_user_daily",
    "rpt_acceptance_by_segment",
    "rpt_refinement_funnel",
    "rpt_serving_distributions",
)
LANDING_DAY_MARTS = ("rpt_pipeline_accounting",)  # the run's own books: its landing day
MARTS = ("fct_completions", *SHOWN_DAY_MARTS, *LANDING_DAY_MARTS)
# Whole history, rebuilt on every refresh: ops.dq_results and registry.models are small.
REBUILT_MARTS = ("rpt_dq_history", "rpt_model_decisions")


def refresh_marts(con: duckdb.DuckDBPyConnection, ds: date) -> dict[str, int]:
    """Rebuild every mart's partition for `day`; returns rows written per mart."""
    with stage_run("marts", ds=ds) as counts:
        for ddl in ("ddl/marts", "ddl/registry", "ddl/extract"):  # what the marts read, too
            run_sql_file(con, ddl)
        counts["imported_completions"] = decide_imported(con, ds)
        counts["fct_completions"] = replace_partition(
            con, "marts.fct_completions", read_sql("marts/fct_completions"), ds
        )
        # A completion shown on an earlier day may settle (be extracted) today: every day
        # whose completions this run extracted is rebuilt, from all of its facts.
        shown_days = sorted({ds} | {d for (d,) in con.execute(
            "select distinct shown_ds from marts.fct_completions where ds = ? "
            "and shown_ds is not null", [ds]).fetchall()})  # fmt: skip
        for name in SHOWN_DAY_MARTS:
            sql = read_sql(f"marts/{name}")
            written = [replace_partition(con, f"marts.{name}", sql, day) for day in shown_days]
            counts[name] = written[shown_days.index(ds)]
        counts["shown_days_rebuilt"] = [str(d) for d in shown_days]
        for name in LANDING_DAY_MARTS:
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
