"""Plan a day's extraction as K shards, each exported to Parquet for a worker to walk.

Reads staging.int_completions_aligned_to_events (day ds), staging.refinements and
ops.quarantine (the lookback days before ds) and staging.stg_telemetry__editor_events
(the day's window); writes nothing to the warehouse, so a read-only connection will do.
A document (session id + URI) belongs to shard `md5(session_id, uri) mod K`. The URI
alone would do, but a team's sessions share URIs (one repository), so one popular file
would load one shard with every session that edits it.

A shard worker needs only its two files, never the warehouse: on another machine it
reads them from the shared data root (a volume every worker mounts). One directory per
plan, renamed into place whole, so a worker never sees half a plan:

    {root}/ds=D/plan-ID/plan.json                ds, K, the settings decisions depend on
                        skipped.parquet          candidates an earlier run already wrote
                        shard-NNN/candidates.parquet, events.parquet   the shard's inputs
                        shard-NNN/decisions.parquet                    its output (shards.py)

Planning a day again replaces its plan; older days' plans are swept after `keep_days`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from echo_ops.align import window
from echo_ops.warehouse import insert_rows, quote_literal, read_sql

PLAN_FILE = "plan.json"
SKIPPED_FILE = "skipped.parquet"
# What a decision depends on (echo_ops.extract.decide): frozen in the plan, so that every
# shard decides with the plan's values whatever its own machine's environment says.
DECISION_SETTINGS = ("quiet_s", "horizon_s", "align_lookback_days")


@dataclass(frozen=True)
class Plan:
    ds: date
    dir: Path
    shards: int
    candidates: int  # the day's aligned candidates, skipped ones included
    skipped: int
    settings: dict[str, Any]

    def shard_dir(self, k: int) -> Path:
        return self.dir / f"shard-{k:03d}"

    @property
    def decision_settings(self) -> SimpleNamespace:
        return SimpleNamespace(**self.settings)


def read_plan(plan_dir: Path) -> Plan:
    meta = json.loads((plan_dir / PLAN_FILE).read_text())
    return Plan(date.fromisoformat(meta["ds"]), plan_dir, meta["shards"], meta["candidates"],
                meta["skipped"], meta["settings"])  # fmt: skip


def shard_of(session_id: str, doc_uri: str, shards: int) -> int:
    """A document's shard: stable across processes, machines and versions (md5, not hash())."""
    digest = hashlib.md5(f"{session_id}\0{doc_uri}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % shards


def plan_shards(con, ds: date, cfg, root: Path, shards: int, keep_days: int = 7) -> Plan:
    """Export day ds's candidates and their documents' events per shard under `root`."""
    candidates = candidates_by_document(con, ds)
    total = sum(len(v) for v in candidates.values())
    skipped = written_earlier(con, ds, candidates, cfg.align_lookback_days)
    day_dir = root / f"ds={ds.isoformat()}"
    plan_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    tmp = day_dir / f".plan-{plan_id}.tmp"
    tmp.mkdir(parents=True)
    _register_documents(con, candidates, shards)
    params = {"ds": ds, "lo": window(ds, cfg.align_lookback_days)[0]}
    for k in range(shards):
        out = tmp / f"shard-{k:03d}"
        out.mkdir()
        for name, sql in (("candidates", "extract/shard_candidates"),
                          ("events", "extract/doc_events_for_candidates")):  # fmt: skip
            query, target = read_sql(sql), quote_literal(out / f"{name}.parquet")
            used = {p: v for p, v in {**params, "shard": k}.items() if f"${p}" in query}
            con.execute(f"copy ({query}) to {target} (format parquet)", used)
    con.execute(
        f"copy (select 'skip' as action, '' as reason, unnest($ids::varchar[]) as completion_id) "
        f"to {quote_literal(tmp / SKIPPED_FILE)} (format parquet)",
        {"ids": [c["completion_id"] for c in skipped]},
    )
    settings = {name: getattr(cfg, name) for name in DECISION_SETTINGS}
    meta = {"ds": ds.isoformat(), "shards": shards, "candidates": total,
            "skipped": len(skipped), "settings": settings}  # fmt: skip
    (tmp / PLAN_FILE).write_text(json.dumps(meta, indent=1))
    final = day_dir / f"plan-{plan_id}"
    os.rename(tmp, final)
    _sweep(root, day_dir, final, ds - timedelta(days=keep_days))
    return read_plan(final)


def candidates_by_document(con, ds: date) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Day ds's aligned candidates (without prompts: the writer joins them back in SQL),
    grouped by document (session id, URI)."""
    cur = con.execute(
        "select * exclude (prompt_prefix, prompt_suffix) "
        "from staging.int_completions_aligned_to_events where ds = ? "
        "order by session_id, doc_uri, shown_doc_version, completion_id",
        [ds],
    )
    names = [d[0] for d in cur.description]
    by_doc: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in cur.fetchall():
        cand = dict(zip(names, row, strict=True))
        by_doc.setdefault((cand["session_id"], cand["doc_uri"]), []).append(cand)
    return by_doc


def written_earlier(con, ds: date, candidates: dict, lookback: int) -> list[dict[str, Any]]:
    """Take out (and return) candidates an earlier run of the window already wrote: a cache,
    not a rule. Walking them again would reach the same "skip" (landing days never change
    once ingested); when the earlier run has not happened yet, the walk decides as usual."""
    done = {
        cid
        for (cid,) in con.execute(
            "select completion_id from staging.refinements where ds between $lo and $prev "
            "union select replace(object_key, 'completion:', '') from ops.quarantine "
            "where stage = 'extract' and ds between $lo and $prev",
            {"lo": ds - timedelta(days=lookback), "prev": ds - timedelta(days=1)},
        ).fetchall()
    }
    taken = []
    for key in list(candidates):
        keep = [c for c in candidates[key] if c["completion_id"] not in done or c["shown_ds"] >= ds]
        taken += [c for c in candidates[key] if c not in keep]
        if keep:
            candidates[key] = keep
        else:
            del candidates[key]
    return taken


def _register_documents(con, candidates: dict, shards: int) -> None:
    """Temp tables the export queries join: _cand_docs (each document numbered in key order,
    its shard, its first shown version) and _walk_cands (the candidates left to walk)."""
    con.execute(
        "create or replace temp table _cand_docs (doc_no bigint, shard integer, "
        "session_id varchar, doc_uri varchar, min_version bigint)"
    )
    con.execute("create or replace temp table _walk_cands (doc_no bigint, completion_id varchar)")
    docs, cands = [], []
    for n, (s, u) in enumerate(sorted(candidates)):
        mine = candidates[(s, u)]
        docs.append((n, shard_of(s, u, shards), s, u, min(c["shown_doc_version"] for c in mine)))
        cands += [(n, c["completion_id"]) for c in mine]
    insert_rows(
        con, "_cand_docs", ["doc_no", "shard", "session_id", "doc_uri", "min_version"], docs
    )
    insert_rows(con, "_walk_cands", ["doc_no", "completion_id"], cands)


def _sweep(root: Path, day_dir: Path, keep: Path, before: date) -> None:
    """Drop this day's other plans and every plan of a day before `before`."""
    stale = [p for p in day_dir.iterdir() if p != keep]
    for d in root.glob("ds=*"):
        try:
            old = date.fromisoformat(d.name[3:]) < before
        except ValueError:
            continue
        stale += [d] if old else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
