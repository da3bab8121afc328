"""Write one run's decisions: refinements, deferrals and extract quarantine for day ds."""

from __future__ import annotations

from datetime import date, timedelta

from echo_ops.extract.metrics import refinement_row
from echo_ops.ingest import insert_rows
from echo_ops.warehouse import replace_partition

_REFINEMENT_SELECT = """
select
    ds, completion_id, request_id, user_id, session_id, doc_uri, language_id, model_version,
    shown_ds, shown_at, prompt_prefix, prompt_suffix, proposal_text, accepted_text, accept_kind,
    outcome, final_text, settled_reason, settled_at, touching_edits, trajectory_json::json,
    levenshtein(proposal_text, final_text) as edit_distance, kept_rate, accepted_retained_chars
from _refinement_rows
"""


def write_results(con, ds: date, decided: list, lookback_days: int, result) -> None:
    """Replace day ds of staging.refinements, ops.extract_deferrals and extract quarantine."""
    import pandas as pd  # only the writer needs it

    rows, deferrals, quarantine = [], [], []
    for d in decided:
        if d.action == "extract":
            rows.append(refinement_row(d.cand, d.outcome, ds))
            result.outcomes[rows[-1]["outcome"]] = result.outcomes.get(rows[-1]["outcome"], 0) + 1
        elif d.action == "defer":
            expires = d.cand["shown_ds"] + timedelta(days=lookback_days)
            deferrals.append((ds, d.cand["completion_id"], d.cand["shown_ds"], d.reason, expires))
        elif d.action == "quarantine":
            quarantine.append(d)
        else:
            result.already_extracted += 1
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    con.register("_refinement_rows", frame)
    try:
        result.extracted = replace_partition(con, "staging.refinements", _REFINEMENT_SELECT, ds)
    finally:
        con.unregister("_refinement_rows")
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
    "prompt_prefix",
    "prompt_suffix",
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
