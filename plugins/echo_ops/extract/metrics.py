"""Outcome classes and the per-completion metrics written to staging.refinements."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from difflib import SequenceMatcher
from typing import Any

from echo_ops.extract.settle import Outcome


def classify(proposal: str, accepted: str | None, final: str, deleted: bool = False) -> str:
    """The outcome class of a settled completion (values as in the simulator's truth).

    `deleted`: the accepted region was emptied at some point; what the person typed
    there afterwards is their own text, but the outcome is what they did: deleted it."""
    if accepted:
        if not final or deleted:
            return "accepted_deleted"
        if accepted != proposal:
            return "partial_accepted"
        return "accepted_kept" if final == accepted else "accepted_refined"
    return "rejected_written" if final else "rejected_empty"


def retained_chars(accepted: str | None, final: str) -> int:
    """Characters of the accepted text still present, in order, in the final text."""
    if not accepted or not final:
        return 0
    matcher = SequenceMatcher(None, accepted, final, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def refinement_row(cand: dict[str, Any], out: Outcome, ds: date) -> dict[str, Any]:
    """One staging.refinements row (edit_distance is filled in by DuckDB's levenshtein)."""
    proposal = cand["proposal_text"]
    retained = retained_chars(out.accepted_text, out.final_text)
    trajectory = {"proposal": proposal, "states": out.trajectory[1:], "final": out.final_text}
    return {
        "ds": ds,
        "completion_id": cand["completion_id"],
        "request_id": cand["request_id"],
        "user_id": cand["user_id"],
        "session_id": cand["session_id"],
        "doc_uri": cand["doc_uri"],
        "language_id": cand["language_id"],
        "model_version": cand["model_version"],
        "shown_ds": cand["shown_ds"],
        "shown_at": cand["shown_at"],
        "proposal_text": proposal,
        "accepted_text": out.accepted_text,
        "accept_kind": out.accept_kind,
        "outcome": classify(proposal, out.accepted_text, out.final_text, out.deleted_after_accept),
        "final_text": out.final_text,
        "settled_reason": out.reason,
        "settled_at": datetime.fromtimestamp(out.settled_at, UTC).replace(tzinfo=None),
        "touching_edits": out.touches,
        "trajectory_json": json.dumps(trajectory, ensure_ascii=False),
        "kept_rate": retained / len(proposal) if proposal else 0.0,
        "accepted_retained_chars": retained,
    }
