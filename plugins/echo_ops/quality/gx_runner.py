"""Great Expectations Core, used directly: a file context, a pandas asset, one suite per hop.

The GX project lives at `{data_root}/quality/gx`; Data Docs are rebuilt after every run
at the stable path `{data_root}/quality/data_docs/index.html`. GX is slow to import, so
only the functions here import it. Frames come from DuckDB (`.df()`): GX rejects polars frames.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from echo_ops.quality.sql_checks import SAMPLE_BAD_ROWS, CheckOutcome
from echo_ops.quality.suites import Suite

DOCS_SITE = "echo_data_docs"


def docs_dir(data_root: Path) -> Path:
    return Path(data_root) / "quality" / "data_docs"


def docs_index(data_root: Path) -> Path:
    return docs_dir(data_root) / "index.html"


def load_frame(con: duckdb.DuckDBPyConnection, suite: Suite, day: date, max_rows: int, seed: int):
    """The day's rows for the GX checks (a seeded reservoir sample past `max_rows`) and what was sampled."""
    cols = sorted(
        {c.column for c in suite.checks if c.engine == "gx" and c.column} | set(suite.key)
    )
    select = f"select {', '.join(cols)} from {suite.table} where ds = $ds"
    total = con.execute(
        f"select count(*) from {suite.table} where ds = $ds", {"ds": day}
    ).fetchone()[0]
    if total <= max_rows:
        return con.execute(select, {"ds": day}).df(), f"all {total} rows"
    sampled = f"select * from ({select}) using sample reservoir({int(max_rows)} rows) repeatable ({int(seed)})"
    frame = con.execute(sampled, {"ds": day}).df()
    return frame, f"reservoir sample of {len(frame)} of {total} rows (seed {seed})"


def run_gx_checks(
    frame, suite: Suite, sampled: str, data_root: Path, run_name: str
) -> list[CheckOutcome]:
    """Validate `frame` against the suite's `gx` checks; Data Docs are updated on the way."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # never phone home from a task
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = _context(gx, Path(data_root))
    batch_def = _batch_definition(ctx, suite.name)
    gx_suite = ctx.suites.add_or_update(_expectation_suite(gx, suite))
    vd = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch_def, suite=gx_suite)
    )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[vd],
            actions=[UpdateDataDocsAction(name="update_docs", site_names=[DOCS_SITE])],
            result_format={
                "result_format": "COMPLETE",
                "partial_unexpected_count": SAMPLE_BAD_ROWS,
            },
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name)
    )
    return [
        _outcome(r, frame, suite, sampled) for vr in result.run_results.values() for r in vr.results
    ]


def render_sql_outcomes(
    outcomes: list[CheckOutcome], suite: Suite, data_root: Path, run_name: str
) -> None:
    """Put the full-day SQL checks into Data Docs too, so one page shows a hop's whole verdict.

    GX sees only the aggregates (one row: each check's pass/fail), with what was observed
    in the expectation's notes; the rows themselves never leave DuckDB.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    name = f"{suite.name}__full_day_sql"
    ctx = _context(gx, Path(data_root))
    gx_suite = gx.ExpectationSuite(name=name, meta={"table": suite.table})
    for o in outcomes:
        notes = f"{o.severity}: {o.observed} [{o.sampled}]"
        gx_suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(column=o.name, value_set=[True], notes=notes)
        )
    vd = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(
            name=name, data=_batch_definition(ctx, name), suite=ctx.suites.add_or_update(gx_suite)
        )
    )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[vd],
            actions=[UpdateDataDocsAction(name="update_docs", site_names=[DOCS_SITE])],
        )
    )
    frame = pd.DataFrame([{o.name: bool(o.success) for o in outcomes}])
    checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name))


def _context(gx, data_root: Path):
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="file", project_root_dir=str(data_root / "quality" / "gx"))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    if DOCS_SITE not in (ctx.config.data_docs_sites or {}):
        ctx.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir(data_root)),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return ctx


def _batch_definition(ctx, name: str):
    source = ctx.data_sources.add_or_update_pandas("echo_warehouse")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition("day")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("day")


def _expectation_suite(gx, suite: Suite):
    import great_expectations.expectations as gxe

    gx_suite = gx.ExpectationSuite(name=suite.name, meta={"table": suite.table})
    for check in suite.checks:
        if check.engine != "gx":
            continue
        cls = getattr(gxe, check.kind)
        meta = {"check": check.name, "severity": check.severity}
        gx_suite.add_expectation(cls(column=check.column, meta=meta, **check.kwargs))
    return gx_suite


def _outcome(r, frame, suite: Suite, sampled: str) -> CheckOutcome:
    cfg, res = r.expectation_config, r.result or {}
    meta = cfg.meta or {}
    if "unexpected_count" in res:
        observed = f"{res.get('unexpected_count')} of {res.get('element_count')} rows unexpected"
    else:
        observed = f"observed {res.get('observed_value')!r}"
    idx = (res.get("unexpected_index_list") or [])[:SAMPLE_BAD_ROWS]
    bad = frame.loc[idx].to_dict(orient="records") if idx and not r.success else []
    details = {
        "expectation": cfg.type,
        "kwargs": {k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
        "partial_unexpected": res.get("partial_unexpected_list"),
    }
    if r.exception_info and r.exception_info.get("raised_exception"):
        details["exception"] = r.exception_info.get("exception_message")
    return CheckOutcome(
        meta.get("check", cfg.type),
        cfg.kwargs.get("column"),
        meta.get("severity", "blocking"),
        bool(r.success),
        observed,
        sampled,
        details,
        bad,
    )
