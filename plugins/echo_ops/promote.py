"""Promote a candidate only when it is measurably better than the champion, or reject it.

Guarded rule (`train.promotion_rule = "guarded"`, the default; docs/metrics.md): on the
same held-out recent requests, the paired-bootstrap 95% interval of the candidate's gain
in the offline estimate (`train.promote_metric`, echo_ops.offline) must lie above
`train.promote_margin`, and the candidate's loss on the fixed base-corpus regression set
may not rise more than `train.regression_max_loss_rise` (relative).

Loss rule (`"loss"`, and for candidates evaluated without the offline estimate): the
held-out target loss must be at least `min_improvement` (relative) below the champion's,
and edit similarity may not drop by more than `max_edit_sim_drop`.
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
    loss_gain: float | None = None  # loss rule: (champion - candidate) / champion
    edit_similarity_delta: float | None = None  # loss rule: candidate - champion
    offline_diff: float | None = None  # guarded rule: candidate - champion, primary estimate
    regression_loss_rise: float | None = None  # guarded rule: relative, on the base corpus


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


def decide_guarded(offline: dict[str, Any], margin: float, max_loss_rise: float) -> Decision:
    """The guarded rule on an offline comparison (evaluate.offline_comparison)."""
    primary, reg = offline["primary"], offline["regression"]
    lo, hi = primary["ci"]
    rise = (reg["candidate_loss"] - reg["champion_loss"]) / max(reg["champion_loss"], 1e-12)
    facts = (
        f"{primary['metric']} {offline['champion'][primary['metric']]:.4f} -> "
        f"{offline['candidate'][primary['metric']]:.4f} (diff {primary['diff']:+.4f}, 95% "
        f"[{lo:+.4f}, {hi:+.4f}] over {primary['files']} files, {offline['requests']} requests); "
        f"regression loss {reg['champion_loss']:.4f} -> {reg['candidate_loss']:.4f} ({rise:+.2%})"
    )
    if rise > max_loss_rise:
        return Decision(False, f"regression set got worse: {facts}; max rise {max_loss_rise:.0%}",
                        offline_diff=primary["diff"], regression_loss_rise=rise)  # fmt: skip
    if not lo > margin:
        return Decision(False, f"not better enough online (estimated): {facts}; the interval "
                        f"must lie above {margin:+.4f}", offline_diff=primary["diff"],
                        regression_loss_rise=rise)  # fmt: skip
    return Decision(
        True, f"promoted: {facts}", offline_diff=primary["diff"], regression_loss_rise=rise
    )


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
        if cfg.promotion_rule == "guarded" and "offline" in record.metrics:
            decision = decide_guarded(
                record.metrics["offline"], cfg.promote_margin, cfg.regression_max_loss_rise
            )
            rule = {"promotion_rule": "guarded", "promote_metric": cfg.promote_metric,
                    "promote_margin": cfg.promote_margin,
                    "regression_max_loss_rise": cfg.regression_max_loss_rise}  # fmt: skip
        else:
            decision = decide(
                record.metrics["eval"],
                record.metrics["champion_eval"],
                cfg.min_improvement,
                cfg.max_edit_sim_drop,
            )
            rule = {
                "min_improvement": cfg.min_improvement,
                "max_edit_sim_drop": cfg.max_edit_sim_drop,
            }
        if decision.promote:
            previous = set_champion(con, candidate_id, decision.reason, settings)
        else:
            previous = None
            set_status(con, candidate_id, "rejected", decision.reason)
        update_metrics(con, candidate_id, {"decision": asdict(decision)})
        payload = {"candidate_id": candidate_id, "previous_champion": previous, **asdict(decision),
                   "rule": rule,
                   "config": settings.train.model_dump()}  # fmt: skip
        payload["decision_uri"] = write_artifact_json(
            record, "decision.json", payload, settings.storage
        )
        counts.update(promoted=decision.promote, reason=decision.reason)
        return payload
