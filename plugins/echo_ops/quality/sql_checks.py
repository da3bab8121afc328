"""Full-day checks pushed into DuckDB: exact however large a day is, no frame in memory.

Each check reads one day of a suite's table (and, for volume and drift, the trailing
days) and returns a `CheckOutcome`, with up to five sample bad rows when it fails.
Read-only: safe to run any number of times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from echo_ops.quality.suites import Check, Suite

SAMPLE_BAD_ROWS = 5
_FAMILIES = {
    "text": ("VARCHAR",),
    "json": ("JSON", "VARCHAR"),
    "timestamp": (
        "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP_NS",
        "TIMESTAMP_MS",
        "TIMESTAMP_S",
    ),
    "date": ("DATE",),
    "bool": ("BOOLEAN",),
    "number": (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "REAL",
        "DECIMAL",
    ),
}


@dataclass
class CheckOutcome:
    name: str
    column: str | None
    severity: str
    success: bool
    observed: str
    sampled: str
    details: dict[str, Any] = field(default_factory=dict)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)


def run_sql_check(
    con: duckdb.DuckDBPyConnection, suite: Suite, check: Check, day: date
) -> CheckOutcome:
    """Run one `sql` check of `suite` on `day`."""
    fn = _CHECKS.get(check.kind)
    if fn is None:
        raise ValueError(
            f"suite {suite.name}: unknown sql check kind {check.kind!r} in {check.name}"
        )
    success, observed, details, bad_where = fn(con, suite, check, day)
    bad = [] if success or not bad_where else bad_rows(con, suite, day, bad_where)
    return CheckOutcome(
        check.name,
        check.column,
        check.severity,
        success,
        observed,
        "full day (DuckDB SQL)",
        details,
        bad,
    )


def bad_rows(con, suite: Suite, day: date, where: str, limit: int = SAMPLE_BAD_ROWS) -> list[dict]:
    """Up to `limit` rows of the day matching `where`, heavy JSON columns left out."""
    cols = [c for c in _columns(con, suite.table) if c not in ("payload", "trajectory_json")]
    q = f"select {', '.join(cols)} from {suite.table} where ds = $ds and ({where}) limit {limit}"
    rel = con.execute(q, {"ds": day})
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def _columns(con, table: str) -> dict[str, str]:
    schema, name = table.split(".", 1)
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return {c: t.upper() for c, t in rows}


def _scalar(con, sql: str, day: date, **params):
    return con.execute(sql, {"ds": day, **params}).fetchone()[0]


def _schema(con, suite, check, day):
    have = _columns(con, suite.table)
    problems = {}
    for col, family in suite.columns.items():
        if col not in have:
            problems[col] = "missing"
        elif not any(have[col].startswith(t) for t in _FAMILIES[family]):
            problems[col] = f"{have[col]} (expected {family})"
    observed = (
        "all required columns present"
        if not problems
        else "; ".join(f"{c}: {p}" for c, p in problems.items())
    )
    return not problems, observed, {"problems": problems}, None


def _row_count_min(con, suite, check, day):
    n = _scalar(con, f"select count(*) from {suite.table} where ds = $ds", day)
    return n >= check.kwargs["min_rows"], f"{n} rows", {"rows": n}, None


def _key_unique(con, suite, check, day):
    k = check.column
    dupes = _scalar(
        con,
        f"select count(*) - count(distinct {k}) from {suite.table} where ds = $ds and {k} is not null",
        day,
    )
    where = (
        f"{k} in (select {k} from {suite.table} where ds = $ds group by {k} having count(*) > 1)"
    )
    return dupes == 0, f"{dupes} duplicate {k} rows", {"duplicates": dupes}, where


def _not_null(con, suite, check, day):
    c = check.column
    n = _scalar(con, f"select count(*) from {suite.table} where ds = $ds and {c} is null", day)
    return n == 0, f"{n} null {c}", {"nulls": n}, f"{c} is null"


def _ts_window(con, suite, check, day):
    c, kw = check.column, check.kwargs
    where = (
        f"{c} < cast($ds as timestamp) - to_days({int(kw['late_days'])}) or "
        f"{c} >= cast($ds as timestamp) + interval 1 day + to_seconds({int(kw['skew_s'])})"
    )
    total, outside = con.execute(
        f"select count(*), count(*) filter (where {where}) from {suite.table} where ds = $ds",
        {"ds": day},
    ).fetchone()
    share = outside / total if total else 0.0
    observed = f"{outside} of {total} rows ({share:.4%}) outside [ds-{kw['late_days']}d, ds+1d+{kw['skew_s']}s)"
    return share <= kw["max_share"], observed, {"outside": outside, "share": share}, where


def _volume(con, suite, check, day):
    kw = check.kwargs
    today = _scalar(con, f"select count(*) from {suite.table} where ds = $ds", day)
    hist = con.execute(
        f"select avg(n) from (select ds, count(*) n from {suite.table} "
        f"where ds >= $ds - to_days({int(kw['days'])}) and ds < $ds group by ds)",
        {"ds": day},
    ).fetchone()[0]
    if not hist:
        return True, f"{today} rows, no trailing history", {"rows": today}, None
    ratio = today / hist
    ok = kw["min_ratio"] <= ratio <= kw["max_ratio"]
    observed = f"{today} rows = {ratio:.2f}x the trailing {kw['days']}-day mean {hist:.0f}"
    return ok, observed, {"rows": today, "trailing_mean": hist, "ratio": ratio}, None


def _today_vs_trailing(con, suite, agg_sql: str, days: int, day):
    """A per-day aggregate today, and its mean over the trailing days (None if absent)."""
    values = dict(
        con.execute(
            f"select ds, {agg_sql} from {suite.table} "
            f"where ds >= $ds - to_days({int(days)}) and ds <= $ds group by ds",
            {"ds": day},
        ).fetchall()
    )
    today = values.pop(day, None)
    hist = [v for v in values.values() if v is not None]
    return today, (sum(hist) / len(hist) if hist else None)


def _acceptance_drift(con, suite, check, day):
    kw = check.kwargs
    today, base = _today_vs_trailing(con, suite, kw["rate_sql"], kw["days"], day)
    if today is None or base is None:
        return True, f"rate {today}, no trailing history", {"rate": today}, None
    drift = today - base
    observed = f"acceptance rate {today:.3f} vs trailing {base:.3f} (drift {drift:+.3f})"
    return (
        abs(drift) <= kw["max_abs"],
        observed,
        {"rate": today, "trailing": base, "drift": drift},
        None,
    )


def _quantile_drift(con, suite, check, day):
    kw = check.kwargs
    agg = f"quantile_cont({kw['expr']}, {float(kw['quantile'])})"
    today, base = _today_vs_trailing(con, suite, agg, kw["days"], day)
    label = f"p{int(kw['quantile'] * 100)} of {kw['expr']}"
    if today is None or base is None:
        return True, f"{label} = {today}, no trailing history", {"value": today}, None
    # Ratios of tiny numbers swing wildly; +1 keeps a 0 -> 1 move from reading as infinite.
    ratio = (today + 1) / (base + 1)
    ok = 1 / kw["max_ratio"] <= ratio <= kw["max_ratio"]
    return (
        ok,
        f"{label} = {today:.1f} vs trailing {base:.1f} ({ratio:.2f}x)",
        {"value": today, "trailing": base},
        None,
    )


def _no_opted_out_users(con, suite, check, day):
    where = f"{check.column} in (select user_id from ops.consent where opted_out)"
    n = _scalar(con, f"select count(*) from {suite.table} where ds = $ds and ({where})", day)
    return n == 0, f"{n} rows from opted-out users", {"rows": n}, where


def _split_grouped(con, suite, check, day):
    c = check.column
    where = (
        f"{c} in (select {c} from {suite.table} where {c} in "
        f"(select {c} from {suite.table} where ds = $ds) group by {c} having count(distinct split) > 1)"
    )
    n = _scalar(
        con, f"select count(distinct {c}) from {suite.table} where ds = $ds and ({where})", day
    )
    return n == 0, f"{n} files on both sides of the split", {"files": n}, where


def _split_leak(con, suite, check, day):
    t = suite.table
    where = (
        f"split = 'train' and md5({check.column}) in "
        f"(select md5({check.column}) from {t} where split = 'eval')"
    )
    n = _scalar(con, f"select count(*) from {t} where ds = $ds and ({where})", day)
    return n == 0, f"{n} train rows whose target is an eval target", {"rows": n}, where


def _books_balance(con, suite, check, day):
    rows = con.execute(
        "select stage, rows_in, rows_out, quarantined, deferred, unaccounted "
        "from marts.rpt_pipeline_accounting where ds = $ds and unaccounted <> 0",
        {"ds": day},
    ).fetchall()
    unbalanced = {r[0]: dict(zip(("rows_in", "rows_out", "quarantined", "deferred",
                                  "unaccounted"), r[1:], strict=True)) for r in rows}  # fmt: skip
    observed = "books balance" if not rows else f"unaccounted rows in {', '.join(unbalanced)}"
    return not rows, observed, {"unbalanced": unbalanced}, None


def _no_day_missing(con, suite, check, day):
    missing = [
        str(d)
        for (d,) in con.execute(
            "select d::date from range((select min(ds) from marts.rpt_pipeline_accounting), "
            "$ds::date + 1, interval 1 day) as t(d) "
            "where d::date not in (select ds from marts.rpt_pipeline_accounting) order by 1",
            {"ds": day},
        ).fetchall()
    ]
    observed = "no day missing" if not missing else f"{len(missing)} day(s) missing: {missing[:5]}"
    return not missing, observed, {"missing": missing}, None


def _no_secrets(con, suite, check, day):
    """No credential in any example text, without scanning each text a second time: an
    example stamped by the current detector (training.examples.scanned_by) was redacted
    by it at build time, and redaction is idempotent. Unstamped or stale rows are scanned
    here in Python; every row meets the token tripwire (safety.TRIPWIRE) in SQL, and a
    tripped row is scanned to confirm."""
    from echo_ops.safety import TRIPWIRE, detector_version, find_secrets

    stamped = any(
        c == "scanned_by"
        for (c,) in con.execute(f"select column_name from (describe {suite.table})").fetchall()
    )
    trusted = "scanned_by = $version" if stamped else "false"
    rows = con.execute(
        f"select {suite.key[0]}, prefix, suffix, target from {suite.table} "
        f"where ds = $ds and (not coalesce({trusted}, false) "
        "or regexp_matches(concat_ws(chr(10), prefix, suffix, target), $tripwire))",
        {"ds": day, "tripwire": TRIPWIRE, **({"version": detector_version()} if stamped else {})},
    ).fetchall()
    (total,) = con.execute(
        f"select count(*) from {suite.table} where ds = $ds", {"ds": day}
    ).fetchone()
    hits: dict[str, list[str]] = {}
    for key, *texts in rows:
        # One scan per example: the rule regexes cost per call more than per character.
        kinds = sorted({f.kind for f in find_secrets("\n".join(t for t in texts if t))})
        if kinds:
            hits[str(key)] = kinds
    keys = ", ".join("'" + k.replace("'", "''") + "'" for k in list(hits)[:SAMPLE_BAD_ROWS])
    observed = (
        f"{len(hits)} of {total} examples hold a credential or personal data "
        f"({len(rows)} scanned: unstamped, stale or tripped)"
    )
    details = {
        "examples": len(hits),
        "scanned": len(rows),
        "kinds": json.dumps(sorted({k for v in hits.values() for k in v})),
    }
    return not hits, observed, details, f"{suite.key[0]} in ({keys})" if hits else None


_CHECKS = {
    "books_balance": _books_balance,
    "no_day_missing": _no_day_missing,
    "schema": _schema,
    "row_count_min": _row_count_min,
    "key_unique": _key_unique,
    "not_null": _not_null,
    "ts_window": _ts_window,
    "volume": _volume,
    "acceptance_drift": _acceptance_drift,
    "quantile_drift": _quantile_drift,
    "no_opted_out_users": _no_opted_out_users,
    "split_grouped": _split_grouped,
    "split_leak": _split_leak,
    "no_secrets": _no_secrets,
}
