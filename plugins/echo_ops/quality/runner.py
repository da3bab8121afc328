"""Run one hop's suite on one day: SQL checks, GX checks, ops.dq_results rows, a clear verdict."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from echo_ops.config import Settings
from echo_ops.errors import DataError
from echo_ops.logs import get_logger, stage_run
from echo_ops.quality.sql_checks import CheckOutcome, run_sql_check
from echo_ops.quality.suites import SUITE_NAMES, Suite, build_suites
from echo_ops.warehouse import log_run, table_exists

_log = get_logger("quality")


class DataQualityError(DataError):
    """A blocking data-quality check failed: deterministic, so retrying will not help."""

    def __init__(self, message: str, result: SuiteResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class SuiteResult:
    suite: str
    ds: date
    run_id: str
    docs_path: Path
    outcomes: list[CheckOutcome] = field(default_factory=list)

    @property
    def failed_blocking(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "blocking"]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "warning"]

    def counts(self) -> dict[str, int | str]:
        return {
            "suite": self.suite,
            "checks": len(self.outcomes),
            "failed_blocking": len(self.failed_blocking),
            "warnings": len(self.warnings),
            "run_id": self.run_id,
        }


def get_suite(name: str, settings: Settings) -> Suite:
    suites = build_suites(settings.quality)
    if name not in suites:
        raise ValueError(f"unknown quality suite {name!r}; choose one of: {', '.join(SUITE_NAMES)}")
    return suites[name]


def run_suite(
    con: duckdb.DuckDBPyConnection, suite_name: str, ds: date, settings: Settings
) -> SuiteResult:
    """Check one day of one hop; write one ops.dq_results row per check.

    Reads the suite's table (and ops.consent); writes ops.dq_results, ops.run_log and the
    Data Docs. Safe to re-run (each run appends rows under a new run_id). Raises
    DataQualityError naming the failed blocking checks with sample bad rows.
    """
    suite = get_suite(suite_name, settings)
    started = datetime.now()
    result = SuiteResult(suite.name, ds, uuid.uuid4().hex[:12], _docs_index(settings))
    with stage_run("quality", suite=suite.name, ds=ds, run_id=result.run_id) as counts:
        result.outcomes = [
            _redact_samples(o) for o in _collect(con, suite, ds, settings, result.run_id)
        ]
        _render_docs(result, suite, settings)
        _store(con, result)
        counts.update({k: v for k, v in result.counts().items() if k not in ("suite", "run_id")})
        status = "failed" if result.failed_blocking else "success"
        log_run(
            con,
            f"quality.{suite.name}",
            ds,
            started,
            status,
            result.counts(),
            run_id=result.run_id,
        )
        for w in result.warnings:
            _log.warning("warning check=%s suite=%s observed=%r", w.name, suite.name, w.observed)
        if result.failed_blocking:
            raise DataQualityError(failure_message(result), result)
    return result


def _docs_index(settings: Settings) -> Path:
    from echo_ops.quality.gx_runner import docs_index

    return docs_index(settings.data_root)


def _collect(con, suite: Suite, ds: date, settings: Settings, run_id: str) -> list[CheckOutcome]:
    if not table_exists(con, suite.table):
        return [
            CheckOutcome(
                "table_exists",
                None,
                "blocking",
                False,
                f"{suite.table} does not exist",
                "none",
                {"table": suite.table},
            )
        ]
    sql_checks = [c for c in suite.checks if c.engine == "sql"]
    schema = run_sql_check(con, suite, sql_checks[0], ds)
    if not schema.success:
        # Every other check would trip over the same missing or mistyped column.
        return [schema]
    outcomes = [schema] + [run_sql_check(con, suite, c, ds) for c in sql_checks[1:]]
    by_name = {o.name: o for o in outcomes}
    gx_checks = [c for c in suite.checks if c.engine == "gx"]
    # GX needs the columns to exist and at least one row; those failures are already recorded.
    if gx_checks and by_name["day_not_empty"].success:
        from echo_ops.quality.gx_runner import load_frame, run_gx_checks

        q = settings.quality
        frame, sampled = load_frame(con, suite, ds, q.sample_rows, q.sample_seed)
        outcomes += run_gx_checks(
            frame, suite, sampled, settings.data_root, f"{suite.name}-{ds}-{run_id}"
        )
    return outcomes


def _render_docs(result: SuiteResult, suite: Suite, settings: Settings) -> None:
    from echo_ops.quality.docs_assets import MissingWebAssets, localize_data_docs
    from echo_ops.quality.gx_runner import docs_dir, render_sql_outcomes

    sql_names = {c.name for c in suite.checks if c.engine == "sql"} | {"table_exists"}
    sql = [o for o in result.outcomes if o.name in sql_names]
    render_sql_outcomes(sql, suite, settings.data_root, f"{suite.name}-{result.ds}-{result.run_id}")
    try:
        localize_data_docs(docs_dir(settings.data_root))
    except MissingWebAssets as exc:  # the checks stand; only the pages stay online-only
        _log.warning("%s", exc)


def _redact_samples(outcome: CheckOutcome) -> CheckOutcome:
    # Sample rows go to task logs and ops.dq_results: never let them carry a credential there.
    from echo_ops.safety import redact_text

    outcome.bad_rows = [
        {k: redact_text(v).text if isinstance(v, str) else v for k, v in row.items()}
        for row in outcome.bad_rows
    ]
    return outcome


def _store(con, result: SuiteResult) -> None:
    rows = [
        (
            result.run_id,
            result.ds,
            result.suite,
            o.name,
            o.column,
            o.severity,
            o.success,
            o.observed,
            json.dumps({**o.details, "bad_rows": o.bad_rows}, default=str),
            o.sampled,
        )
        for o in result.outcomes
    ]
    con.executemany(
        "insert into ops.dq_results (run_id, ds, suite, expectation, column_name, severity, success, observed, "
        "details_json, sampled) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _short(row: dict) -> str:
    parts = []
    for k, v in row.items():
        text = str(v)
        parts.append(f"{k}={text[:60] + '...' if len(text) > 60 else text}")
    return ", ".join(parts)


def failure_message(result: SuiteResult) -> str:
    """What on-call reads: which checks failed, what was seen, sample bad rows, where the docs are."""
    failed = result.failed_blocking
    lines = [
        f"data quality FAILED for suite {result.suite} on {result.ds}: "
        f"{len(failed)} blocking check(s) failed: {', '.join(o.name for o in failed)}"
    ]
    for o in failed:
        lines.append(f"- {o.name} ({o.column or 'table'}): {o.observed} [checked on: {o.sampled}]")
        lines += [f"    bad row: {_short(r)}" for r in o.bad_rows[:5]]
    if result.warnings:
        lines.append("warnings: " + "; ".join(f"{o.name}: {o.observed}" for o in result.warnings))
    lines.append(f"Data Docs: {result.docs_path}")
    lines.append(f"all results: select * from ops.dq_results where run_id = '{result.run_id}'")
    return "\n".join(lines)
