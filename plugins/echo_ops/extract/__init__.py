"""Extract: each completion's settled final text, outcome, trajectory and metrics.

Reads staging.int_completions_aligned_to_events (partition ds) and the documents' events
(staging.stg_telemetry__editor_events, landing days of the window, streamed one document
at a time so memory is bounded by the largest document, not the day). Writes, for day ds:
staging.refinements, ops.extract_deferrals, ops.quarantine (stage extract) and
ops.extract_accounting. A completion is written by exactly one run: the first day whose
landing data settles it (see docs/contracts.md). Re-running a day is safe.

Three steps, so that the walk can spread over machines (docs/scale.md): plan.py exports
the day's candidates and events as `extract.shards` shards of documents to Parquet
(reading the warehouse only); shards.py walks one shard from its files alone (a mapped
task of echo_daily, on any worker; `extract.walk_workers` processes each); merge.py
writes every shard's decisions into the warehouse and checks the books.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from echo_ops.config import Settings
from echo_ops.errors import DataError
from echo_ops.extract.metrics import classify, refinement_row
from echo_ops.extract.settle import Document, Outcome, day_number, follow
from echo_ops.logs import stage_run
from echo_ops.warehouse import ensure_pipeline_tables, limit_memory


class ExtractError(DataError):
    """Extraction's books do not balance: a deterministic data or logic error."""


@dataclass
class ExtractResult:
    ds: date
    candidates: int = 0
    extracted: int = 0
    deferred: int = 0
    quarantined: int = 0
    already_extracted: int = 0
    events_read: int = 0
    worker_peak_rss_mb: int = 0  # the walk's worker processes (0: walked in this one)
    outcomes: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("ds", "outcomes")} | {
            f"outcome_{k}": v for k, v in sorted(self.outcomes.items())
        }


def extract_day(
    con: duckdb.DuckDBPyConnection, ds: date, settings: Settings, progress=None
) -> ExtractResult:
    """Extract day ds in this process (align must have run for ds); safe to re-run.

    The same plan -> shards -> merge as echo_daily's mapped tasks, with the plan in a temp
    directory and its `extract.shards` shards walked one after another."""
    from echo_ops.extract.merge import merge_shards
    from echo_ops.extract.plan import plan_shards
    from echo_ops.extract.shards import walk_shard

    ensure_pipeline_tables(con)
    limit_memory(con, settings)
    cfg = settings.extract
    result = ExtractResult(ds)
    tmp_root = Path(settings.data_root) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with (
        stage_run("extract", ds=ds, shards=cfg.shards, quiet_s=cfg.quiet_s, horizon_s=cfg.horizon_s) as counts,
        tempfile.TemporaryDirectory(prefix="echo-extract-", dir=tmp_root) as tmp,
    ):  # fmt: skip
        plan = plan_shards(con, ds, cfg, Path(tmp), cfg.shards)
        for k in range(plan.shards):
            walk_shard(plan.shard_dir(k), cfg.walk_workers, cfg.duckdb_memory_limit, progress)
        merge_shards(con, plan.dir, result)
        counts.update(result.counts())
    return result


@dataclass
class Verdict:
    """What this run does with one candidate (promotion decisions are promote.Decision)."""

    cand: dict[str, Any]
    action: str  # extract | defer | quarantine | skip
    outcome: Outcome | None
    reason: str = ""


def decide(cand: dict[str, Any], doc: Document, ds: date, cfg) -> Verdict:
    """Settle one candidate with data <= ds and decide which run owns it."""
    idx = doc.shown.get(cand["completion_id"])
    expires = cand["shown_ds"] + timedelta(days=cfg.align_lookback_days) <= ds
    if idx is None:
        return Verdict(cand, "quarantine" if expires else "defer", None, "shown_event_missing")
    walk = (
        (cand["shown_line"], cand["shown_character"]),
        cand["proposal_text"],
        cfg.quiet_s,
        cfg.horizon_s,
        cand["position_encoding"],
    )
    out = follow(doc, idx, *walk)
    today = day_number(ds)
    if out.status == "pending" and out.reason == "accept_event_missing" and expires:
        # It never came: the insertion was the person's own typing. Decided today, the
        # last day of the lookback (earlier runs deferred it), so it is written today.
        out.status, out.reason, out.ready_ds = "settled", out.held_reason, today
    if out.status == "pending" or not cand["has_server"]:
        reason = out.reason if out.status == "pending" else "missing_server_request"
        return Verdict(cand, "quarantine" if expires else "defer", out, reason)
    ready = max(out.ready_ds, day_number(cand["server_ds"]))
    if ready < today:
        return Verdict(cand, "skip", out)
    if cand["shown_ds"] < ds and cand["server_ds"] < ds and not out.accept_like:
        # Today's data was needed; was it settled already with what had landed before?
        earlier = Document([e for e in doc.events if e.ds < today])
        j = earlier.shown.get(cand["completion_id"])
        if j is not None:
            before = follow(earlier, j, *walk)
            if before.status != "pending":
                return Verdict(cand, "skip", out)
    if out.status == "failed":
        return Verdict(cand, "quarantine", out, out.reason)
    return Verdict(cand, "extract", out)


__all__ = ["ExtractError", "ExtractResult", "classify", "extract_day", "refinement_row"]
