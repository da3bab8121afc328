"""Merge a plan's shard decisions into the warehouse for day ds.

Reads the plan's skipped.parquet and every shard's decisions.parquet (extract/plan.py,
extract/shards.py), staging.int_completions_aligned_to_events and, for the completions
still waiting, staging.stg_telemetry__editor_events. Writes day ds of
staging.refinements, ops.extract_deferrals, ops.quarantine (stage extract) and
ops.extract_accounting, each replaced whole, so re-running the merge is safe. Every
candidate of the day must have exactly one decision: a shard that wrote nothing, or a
stale file, fails here rather than losing completions.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from echo_ops.extract.plan import SKIPPED_FILE, Plan, read_plan
from echo_ops.extract.shards import DECISIONS_FILE
from echo_ops.warehouse import insert_rows, read_sql


class ShardOutputMissing(FileNotFoundError):
    """A shard of the plan left no decisions file (retryable: the shard may be re-run)."""


def merge_shards(con: duckdb.DuckDBPyConnection, plan_dir: Path, result) -> None:
    """Write the plan's day from its shards' decisions; fills `result` (an ExtractResult)."""
    from echo_ops.extract import ExtractError
    from echo_ops.extract.accounting import record_accounting
    from echo_ops.extract.writer import write_results

    plan = read_plan(plan_dir)
    lookback = plan.settings["align_lookback_days"]
    files = _decision_files(plan)
    con.execute(
        "create or replace temp table _decisions as "
        "select * from read_parquet($files, union_by_name = true)",
        {"files": [str(f) for f in files[1:]] + [str(files[0])]},  # a shard's file first: typed
    )
    uncovered = con.execute(read_sql("extract/uncovered_candidates"), {"ds": plan.ds}).fetchall()
    if uncovered:
        raise ExtractError(
            f"extract {plan.ds}: {len(uncovered)} candidates without exactly one decision in "
            f"{plan.dir} (completion_id, decisions): {uncovered[:5]}"
        )
    for key, value in con.execute(
        "select decode(key), decode(value) from parquet_kv_metadata($files)",
        {"files": [str(f) for f in files[1:]]},
    ).fetchall():
        if key == "events_read":
            result.events_read += int(value)
        elif key == "worker_peak_rss_mb":
            result.worker_peak_rss_mb = max(result.worker_peak_rss_mb, int(value))
    result.candidates = plan.candidates
    (result.already_extracted,) = con.execute(
        "select count(*) from _decisions where action = 'skip'"
    ).fetchone()
    waiting = _versions_gone_back(con, plan.ds, _waiting_verdicts(con, plan.ds), lookback)
    write_results(con, plan.ds, waiting, lookback, result)
    record_accounting(con, plan.ds, lookback)


def _decision_files(plan: Plan) -> list[Path]:
    files = [plan.dir / SKIPPED_FILE] + [
        plan.shard_dir(k) / DECISIONS_FILE for k in range(plan.shards)
    ]
    missing = [str(f.relative_to(plan.dir)) for f in files if not f.is_file()]
    if missing:
        raise ShardOutputMissing(
            f"plan {plan.dir} lacks {missing}: re-run those extract shards (every worker must "
            "see the same data root)"
        )
    return files


def _waiting_verdicts(con, ds: date) -> list:
    """The deferred and quarantined decisions as Verdicts, with their candidates' columns."""
    from echo_ops.extract import Verdict

    cur = con.execute(
        "select d.action as _action, d.reason as _reason, a.* exclude (prompt_prefix, prompt_suffix) "
        "from _decisions as d join staging.int_completions_aligned_to_events as a "
        "on a.ds = $ds and a.completion_id = d.completion_id "
        "where d.action in ('defer', 'quarantine') order by a.completion_id",
        {"ds": ds},
    )
    names = [d[0] for d in cur.description]
    verdicts = []
    for row in cur.fetchall():
        cand = dict(zip(names, row, strict=True))
        verdicts.append(Verdict(cand, cand.pop("_action"), None, cand.pop("_reason")))
    return verdicts


def _versions_gone_back(con, ds: date, decided: list, lookback: int) -> list:
    """A completion waiting for later versions of its document, when an edit made after it
    (by the client's clock) carries an older version: the counter went backwards (an
    editor that restarted it), so walking by version can never follow it. Quarantined now
    with that reason, instead of waiting out the lookback as horizon_not_covered. Needs
    the document's earlier versions, which no shard holds: so here, not in the walk."""
    waiting = {
        d.cand["completion_id"]: d
        for d in decided
        if d.action in ("defer", "quarantine") and d.reason == "horizon_not_covered"
    }
    if not waiting:
        return decided
    rows = [(c, d.cand["session_id"], d.cand["doc_uri"], d.cand["shown_doc_version"], d.cand["shown_at"])
            for c, d in waiting.items()]  # fmt: skip
    con.execute(
        "create or replace temp table _waiting (completion_id varchar, session_id varchar, "
        "doc_uri varchar, shown_doc_version bigint, shown_at timestamp)"
    )
    insert_rows(con, "_waiting", ["completion_id", "session_id", "doc_uri", "shown_doc_version", "shown_at"], rows)  # fmt: skip
    found = con.execute(
        read_sql("extract/versions_gone_back"), {"lo": ds - timedelta(days=lookback), "ds": ds}
    ).fetchall()
    for cid, shown_version, version in found:
        d = waiting[cid]
        d.action = "quarantine"
        d.reason = (
            f"doc_version_backwards: an edit at version {version} came after the proposal "
            f"shown on version {shown_version}"
        )
    return decided
