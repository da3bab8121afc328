"""Write one run's decisions: refinements, deferrals and extract quarantine for day ds."""

from __future__ import annotations

from datetime import date, timedelta

from echo_ops.extract.metrics import refinement_row
from echo_ops.warehouse import insert_rows, read_sql, replace_partition


def create_decisions_table(con) -> list[str]:
    """Temp table _decisions: one row per candidate (action, reason) with, for an extracted
    one, its staging.refinements columns (typed by the DDL: run ddl/extract first); returns
    its columns. What a shard writes to Parquet and the merge reads back."""
    con.execute(
        "create or replace temp table _decisions as select '' as action, '' as reason, "
        f"{', '.join(_COLUMNS)} from staging.refinements limit 0"
    )
    return ["action", "reason", *_COLUMNS]


def decision_row(d, ds: date) -> tuple:
    """One _decisions row for a Verdict (the refinement row is built where the walk ran)."""
    if d.action == "extract":
        row = refinement_row(d.cand, d.outcome, ds)
        return (d.action, d.reason, *(row[c] for c in _COLUMNS))
    rest = {"ds": ds, "completion_id": d.cand["completion_id"]}
    return (d.action, d.reason, *(rest.get(c) for c in _COLUMNS))


def write_results(con, ds: date, decided: list, lookback_days: int, result) -> None:
    """Replace day ds of staging.refinements (the rows of temp table _decisions whose action
    is extract), ops.extract_deferrals and extract quarantine (`decided`: the other verdicts)."""
    deferrals, quarantine = [], []
    for d in decided:
        if d.action == "defer":
            expires = d.cand["shown_ds"] + timedelta(days=lookback_days)
            deferrals.append((ds, d.cand["completion_id"], d.cand["shown_ds"], d.reason, expires))
        elif d.action == "quarantine":
            quarantine.append(d)
    con.execute(
        "create or replace temp table _refinement_rows as select "
        f"{', '.join(_COLUMNS)} from _decisions where action = 'extract'"
    )
    result.outcomes = dict(
        con.execute("select outcome, count(*) from _refinement_rows group by all").fetchall()
    )
    result.extracted = replace_partition(
        con, "staging.refinements", read_sql("staging/refinements"), ds
    )
    con.execute("delete from ops.extract_deferrals where ds = ?", [ds])
    insert_rows(
        con,
        "ops.extract_deferrals",
        ["ds", "completion_id", "shown_ds", "reason", "expires_ds"],
        deferrals,
    )
    _write_quarantine(con, ds, quarantine)
    result.deferred, result.quarantined = len(deferrals), len(quarantine)


def _write_quarantine(con, ds: date, decisions: list) -> None:
    con.execute("delete from ops.quarantine where ds = ? and stage = 'extract'", [ds])
    insert_rows(
        con,
        "ops.quarantine",
        ["ds", "stage", "source", "object_key", "reason", "raw_text"],
        [
            (
                ds,
                "extract",
                "client",
                f"completion:{d.cand['completion_id']}",
                d.reason,
                _describe(d),
            )
            for d in decisions
        ],
    )


def _describe(d) -> str:
    c = d.cand
    return (
        f"completion_id={c['completion_id']} request_id={c['request_id']} shown_ds={c['shown_ds']} "
        f"doc={c['doc_uri']} session={c['session_id']} version={c['shown_doc_version']}"
    )[:2000]


_COLUMNS = [
    "ds",
    "completion_id",
    "request_id",
    "user_id",
    "session_id",
    "doc_uri",
    "language_id",
    "model_version",
    "shown_ds",
    "shown_at",
    "proposal_text",
    "accepted_text",
    "accept_kind",
    "outcome",
    "final_text",
    "settled_reason",
    "settled_at",
    "touching_edits",
    "trajectory_json",
    "kept_rate",
    "accepted_retained_chars",
]
