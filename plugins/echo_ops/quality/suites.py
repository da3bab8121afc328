"""The data-quality suites, one per hop, kept in the repo as code.

Two engines share one result table:
- `sql` checks run in DuckDB over the whole day (counts, keys, nulls, timestamps,
  volume and drift against trailing days): they stay exact however big a day is;
- `gx` checks run in Great Expectations on the day, or on a bounded reservoir sample of
  it (`quality.sample_rows`), and are rendered in Data Docs.

Severity: `blocking` fails the hop; `warning` is recorded and the run goes on.
Thresholds come from `QualitySettings` so on-call can tune them without a deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from echo_ops.config import QualitySettings
from echo_ops.contract import ACCEPTED_OUTCOMES, CLIENT_EVENT_TYPES, OUTCOMES

Severity = Literal["blocking", "warning"]


@dataclass(frozen=True)
class Check:
    name: str  # stable id on-call greps for: <what>_<property>
    engine: Literal["sql", "gx"]
    kind: str  # sql: a check in quality.sql_checks; gx: an expectation class name
    column: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: Severity = "blocking"


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    key: tuple[str, ...]
    columns: dict[
        str, str
    ]  # required column -> DuckDB type family (text|timestamp|date|number|json|bool)
    ts_column: str | None
    checks: tuple[Check, ...]


def _sql(name, kind, column=None, severity: Severity = "blocking", **kwargs) -> Check:
    return Check(name, "sql", kind, column, kwargs, severity)


def _gx(name, kind, column=None, severity: Severity = "blocking", **kwargs) -> Check:
    return Check(name, "gx", kind, column, kwargs, severity)


def _day_checks(q: QualitySettings, key: str, not_null: list[str], ts: str | None) -> list[Check]:
    """The full-day checks every hop gets: schema, rows, key, nulls, timestamps, volume."""
    checks = [
        _sql("table_schema", "schema"),
        _sql("day_not_empty", "row_count_min", min_rows=1),
        _sql(f"{key}_unique", "key_unique", key),
        *[_sql(f"{c}_not_null", "not_null", c) for c in not_null],
        _sql(
            "volume_vs_trailing_days",
            "volume",
            severity="warning",
            min_ratio=q.volume_min_ratio,
            max_ratio=q.volume_max_ratio,
            days=q.trailing_days,
        ),
    ]
    if ts:
        checks.append(
            _sql(
                f"{ts}_within_partition",
                "ts_window",
                ts,
                late_days=q.ts_late_days,
                skew_s=q.ts_skew_s,
                max_share=q.ts_outside_max_share,
            )
        )
    return checks


def _distribution_drift(q: QualitySettings, name: str, expr: str) -> list[Check]:
    """p50 and p90 of `expr` today vs the trailing days' mean of each: a shift warns."""
    return [
        _sql(
            f"{name}_p{int(p * 100)}_drift",
            "quantile_drift",
            severity="warning",
            expr=expr,
            quantile=p,
            max_ratio=q.distribution_drift_max_ratio,
            days=q.trailing_days,
        )
        for p in (0.5, 0.9)
    ]


def _raw_client(q: QualitySettings) -> Suite:
    """Editor telemetry as loaded: contract types, keys, clocks, volume, acceptance drift."""
    return Suite(
        "raw_client",
        "raw.client_events",
        ("event_id",),
        {
            "ds": "date",
            "event_id": "text",
            "type": "text",
            "ts": "timestamp",
            "user_id": "text",
            "session_id": "text",
            "doc_uri": "text",
            "doc_version": "number",
            "completion_id": "text",
            "request_id": "text",
            "payload": "text",
        },
        "ts",
        (
            *_day_checks(q, "event_id", ["type", "ts", "user_id", "session_id"], "ts"),
            _sql(
                "acceptance_rate_drift",
                "acceptance_drift",
                severity="warning",
                max_abs=q.acceptance_drift_max,
                days=q.trailing_days,
                rate_sql="count(*) filter (where type = 'completion.accepted')"
                " / nullif(count(*) filter (where type = 'completion.shown'), 0)",
            ),
            _gx(
                "type_in_contract",
                "ExpectColumnValuesToBeInSet",
                "type",
                value_set=list(CLIENT_EVENT_TYPES),
            ),
            _gx(
                "doc_version_non_negative",
                "ExpectColumnValuesToBeBetween",
                "doc_version",
                min_value=0,
            ),
            _gx(
                "event_id_length",
                "ExpectColumnValueLengthsToBeBetween",
                "event_id",
                min_value=1,
                max_value=128,
            ),
        ),
    )


def _raw_server(q: QualitySettings) -> Suite:
    """Model-server log as loaded: keys, model version, latency range."""
    return Suite(
        "raw_server",
        "raw.server_events",
        ("request_id",),
        {
            "ds": "date",
            "request_id": "text",
            "ts": "timestamp",
            "model_version": "text",
            "prompt_prefix": "text",
            "prompt_suffix": "text",
            "completion": "text",
            "latency_ms": "number",
        },
        "ts",
        (
            *_day_checks(q, "request_id", ["ts", "model_version", "completion"], "ts"),
            _gx(
                "latency_ms_in_range",
                "ExpectColumnValuesToBeBetween",
                "latency_ms",
                min_value=0,
                max_value=120_000,
            ),
            _gx(
                "completion_length",
                "ExpectColumnValueLengthsToBeBetween",
                "completion",
                severity="warning",
                min_value=0,
                max_value=q.max_target_chars,
            ),
        ),
    )


def _aligned(q: QualitySettings) -> Suite:
    """Completions joined to their server requests: one per completion, server line found."""
    return Suite(
        "aligned",
        "staging.int_completions_aligned_to_events",
        ("completion_id",),
        {
            "ds": "date",
            "completion_id": "text",
            "request_id": "text",
            "user_id": "text",
            "shown_at": "timestamp",
            "doc_uri": "text",
            "model_version": "text",
            "has_server": "bool",
        },
        "shown_at",
        (
            *_day_checks(
                q,
                "completion_id",
                ["request_id", "user_id", "shown_at", "doc_uri", "has_server"],
                "shown_at",
            ),
            _gx(
                "completion_id_length",
                "ExpectColumnValueLengthsToBeBetween",
                "completion_id",
                min_value=1,
                max_value=128,
            ),
            # A completion waits for its server line (late or lost): many waiting is a
            # server-log delivery problem, worth a look but not a reason to stop the day.
            _gx(
                "server_line_found",
                "ExpectColumnValuesToBeInSet",
                "has_server",
                severity="warning",
                value_set=[True],
                mostly=q.min_server_match_share,
            ),
        ),
    )


def _refinements(q: QualitySettings) -> Suite:
    """One row per completion shown: outcomes, settle reasons, edit distances, lengths, drift."""
    return Suite(
        "refinements",
        "staging.refinements",
        ("completion_id",),
        {
            "ds": "date",
            "completion_id": "text",
            "user_id": "text",
            "doc_uri": "text",
            "shown_at": "timestamp",
            "proposal_text": "text",
            "outcome": "text",
            "final_text": "text",
            "settled_reason": "text",
            "edit_distance": "number",
            "kept_rate": "number",
        },
        "shown_at",
        (
            *_day_checks(
                q,
                "completion_id",
                ["user_id", "doc_uri", "outcome", "final_text", "settled_reason"],
                "shown_at",
            ),
            _sql(
                "acceptance_rate_drift",
                "acceptance_drift",
                severity="warning",
                max_abs=q.acceptance_drift_max,
                days=q.trailing_days,
                rate_sql="avg(case when outcome in ("
                + ", ".join(f"'{o}'" for o in ACCEPTED_OUTCOMES)
                + ") then 1.0 else 0.0 end)",
            ),
            *_distribution_drift(q, "edit_distance", "edit_distance"),
            *_distribution_drift(q, "final_text_length", "length(final_text)"),
            _gx(
                "outcome_in_set", "ExpectColumnValuesToBeInSet", "outcome", value_set=list(OUTCOMES)
            ),
            _gx(
                "settled_reason_in_set",
                "ExpectColumnValuesToBeInSet",
                "settled_reason",
                value_set=["quiet", "saved", "closed", "horizon"],
            ),
            _gx(
                "edit_distance_non_negative",
                "ExpectColumnValuesToBeBetween",
                "edit_distance",
                min_value=0,
            ),
            _gx(
                "kept_rate_is_share",
                "ExpectColumnValuesToBeBetween",
                "kept_rate",
                min_value=0,
                max_value=1,
            ),
            _gx(
                "edit_distance_median",
                "ExpectColumnMedianToBeBetween",
                "edit_distance",
                severity="warning",
                min_value=0,
                max_value=q.max_median_edit_distance,
            ),
            _gx(
                "final_text_length",
                "ExpectColumnValueLengthsToBeBetween",
                "final_text",
                severity="warning",
                min_value=0,
                max_value=q.max_target_chars,
            ),
        ),
    )


def _training_set(q: QualitySettings) -> Suite:
    """Training examples: safe (no secrets, no opted-out users) and leak-free (split by file)."""
    return Suite(
        "training_set",
        "training.examples",
        ("example_id",),
        {
            "ds": "date",
            "example_id": "text",
            "source": "text",
            "user_id": "text",
            "doc_uri": "text",
            "prefix": "text",
            "suffix": "text",
            "target": "text",
            "weight": "number",
            "split": "text",
        },
        None,
        (
            *_day_checks(q, "example_id", ["source", "prefix", "target", "split"], None),
            _sql("no_opted_out_users", "no_opted_out_users", "user_id"),
            _sql("no_file_on_both_sides", "split_grouped", "doc_uri"),
            _sql("no_secrets_in_text", "no_secrets"),
            _sql("no_eval_target_in_train", "split_leak", "target", severity="warning"),
            *_distribution_drift(q, "target_length", "length(target)"),
            _gx(
                "source_in_set",
                "ExpectColumnValuesToBeInSet",
                "source",
                value_set=["refinement", "imported", "replay", "base_corpus"],
            ),
            _gx(
                "split_in_set",
                "ExpectColumnValuesToBeInSet",
                "split",
                value_set=["train", "eval"],
            ),
            _gx(
                "weight_in_range",
                "ExpectColumnValuesToBeBetween",
                "weight",
                min_value=0,
                max_value=100,
            ),
            _gx(
                "target_length",
                "ExpectColumnValueLengthsToBeBetween",
                "target",
                severity="warning",
                min_value=1,
                max_value=q.max_target_chars,
            ),
        ),
    )


def _marts(q: QualitySettings) -> Suite:
    """What analysts are about to get: rates that are rates, books that balance, no gap."""
    return Suite(
        "marts",
        "marts.rpt_daily_acceptance",
        ("model_version", "client"),
        {
            "ds": "date",
            "model_version": "text",
            "shown_count": "number",
            "accepted_count": "number",
            "acceptance_rate": "number",
            "client": "text",
        },
        None,
        (
            _sql("table_schema", "schema"),
            _sql("day_not_empty", "row_count_min", min_rows=1),
            _sql("books_balance", "books_balance"),
            _sql("no_day_missing", "no_day_missing"),
            _gx(
                "acceptance_rate_in_range",
                "ExpectColumnValuesToBeBetween",
                "acceptance_rate",
                min_value=0,
                max_value=1,
            ),
        ),
    )


def build_suites(q: QualitySettings) -> dict[str, Suite]:
    """Every suite by name, with thresholds resolved from settings."""
    suites = [_raw_client(q), _raw_server(q), _aligned(q), _refinements(q), _training_set(q),
              _marts(q)]  # fmt: skip
    known = {f"{s.name}.{c.name}" for s in suites for c in s.checks}
    unknown = sorted(set(q.severity_overrides) - known)
    if unknown:
        raise ValueError(f"quality.severity_overrides names no check: {', '.join(unknown)}")
    return {s.name: _with_overrides(s, q.severity_overrides) for s in suites}


def _with_overrides(suite: Suite, overrides: dict[str, str]) -> Suite:
    checks = tuple(
        replace(c, severity=overrides.get(f"{suite.name}.{c.name}", c.severity))
        for c in suite.checks
    )
    return replace(suite, checks=checks)


HOP_SUITES = ("raw_client", "raw_server", "aligned", "refinements", "training_set")
SUITE_NAMES = (*HOP_SUITES, "marts")


_SQL_RULES = {
    "schema": "the table has the suite's columns, with their types",
    "row_count_min": "at least {min_rows} row(s) on the day",
    "key_unique": "{column} unique on the day",
    "not_null": "{column} not null",
    "volume": "rows between {min_ratio}x and {max_ratio}x the mean of the trailing {days} days",
    "ts_window": "{column} within the landing day ({late_days} days late to {skew_s} s early); "
    "at most {max_share} of rows outside",
    "acceptance_drift": "acceptance rate within {max_abs} of the trailing {days} days'",
    "quantile_drift": "p{pct} of {expr} within {max_ratio}x of the trailing {days} days' mean",
    "no_opted_out_users": "no row of a user who opted out (ops.consent)",
    "split_grouped": "no {column} on both the train and the eval side",
    "no_secrets": "no secret that echo_ops.safety finds in prefix, target or suffix",
    "split_leak": "no train {column} that is also an eval {column}",
    "books_balance": "every stage of marts.rpt_pipeline_accounting has unaccounted 0 on the day",
    "no_day_missing": "marts.rpt_pipeline_accounting has every day from its first to this one",
}
_GX_RULES = {
    "ExpectColumnValuesToBeInSet": "{column} in {value_set}",
    "ExpectColumnValuesToBeBetween": "{column} between {min_value} and {max_value}",
    "ExpectColumnValueLengthsToBeBetween": "length of {column} between {min_value} and {max_value}",
    "ExpectColumnMedianToBeBetween": "median of {column} between {min_value} and {max_value}",
}


def describe(check: Check) -> str:
    """The rule a check enforces, in words: what the YAML note beside a model's SQL says."""
    template = (_SQL_RULES if check.engine == "sql" else _GX_RULES)[check.kind]
    fields = {"min_value": "-inf", "max_value": "inf", **check.kwargs, "column": check.column}
    if "value_set" in fields:
        fields["value_set"] = "(" + ", ".join(str(v) for v in fields["value_set"]) + ")"
    if "quantile" in fields:
        fields["pct"] = int(fields["quantile"] * 100)
    rule = template.format(**fields)
    if "mostly" in check.kwargs:
        rule += f" for at least {check.kwargs['mostly']:.0%} of rows"
    return f"{rule} [{check.engine}, {check.severity}]"


def documented_checks(suite: Suite) -> dict[str, str]:
    """check name -> rule: the `checks:` map of the suite's table's YAML note."""
    return {c.name: describe(c) for c in suite.checks}
