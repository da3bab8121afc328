"""Promote a candidate only when it is measurably better than the champion, or reject it.

Rule (`train.min_improvement`, `train.max_edit_sim_drop`): the candidate's held-out target
loss must be at least `min_improvement` (relative) below the champion's on the same eval
set, and its completions' edit similarity may not drop by more than `max_edit_sim_drop`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from echo_ops.config import Settings
from echo_ops.logs import stage_run


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    loss_gain: float  # relative: (champion - candidate) / champion
    edit_similarity_delta: float  # candidate - champion


def decide(candidate: dict[str, float], champion: dict[str, float], min_improvement: float,
           max_edit_sim_drop: float) -> Decision:  # fmt: skip
    """The promotion rule on two metric dicts (`loss`, `edit_similarity`)."""
    gain = (champion["loss"] - candidate["loss"]) / max(champion["loss"], 1e-12)
    delta = candidate["edit_similarity"] - champion["edit_similarity"]
    facts = f"loss {champion['loss']:.4f} -> {candidate['loss']:.4f} ({gain:+.2%}), edit similarity {delta:+.3f}"
    if gain < min_improvement:
        return Decision(
            False,
            f"not better enough: {facts}; needs >= {min_improvement:.2%} loss gain",
            gain,
            delta,
        )
    if delta < -max_edit_sim_drop:
        return Decision(
            False, f"completions got worse: {facts}; max drop {max_edit_sim_drop}", gain, delta
        )
    return Decision(True, f"promoted: {facts}", gain, delta)


def promote_or_reject(
    con: duckdb.DuckDBPyConnection, candidate_id: str, settings: Settings
) -> dict[str, Any]:
    """Apply the rule to the candidate's stored eval metrics; switch the champion atomically
    or mark it rejected; save `decision.json` beside it. Re-running repeats the same decision."""
    from echo_ops.registry import (
        get_model,
        set_champion,
        set_status,
        update_metrics,
        write_artifact_json,
    )

    cfg = settings.train
    with stage_run("promote", candidate=candidate_id) as counts:
        record = get_model(con, candidate_id)
        if "eval" not in record.metrics:
            raise ValueError(f"{candidate_id} has no eval metrics: run evaluate first")
        if record.status == "champion":
            return {"candidate_id": candidate_id, "promoted": True, "reason": "already champion"}
        decision = decide(
            record.metrics["eval"],
            record.metrics["champion_eval"],
            cfg.min_improvement,
            cfg.max_edit_sim_drop,
        )
        if decision.promote:
            previous = set_champion(con, candidate_id, decision.reason, settings)
        else:
            previous = None
            set_status(con, candidate_id, "rejected", decision.reason)
        update_metrics(con, candidate_id, {"decision": asdict(decision)})
        payload = {"candidate_id": candidate_id, "previous_champion": previous, **asdict(decision),
                   "rule": {"min_improvement": cfg.min_improvement, "max_edit_sim_drop": cfg.max_edit_sim_drop},
                   "config": settings.train.model_dump()}  # fmt: skip
        payload["decision_uri"] = write_artifact_json(
            record, "decision.json", payload, settings.storage
        )
        counts.update(promoted=decision.promote, loss_gain=decision.loss_gain)
        return payload
