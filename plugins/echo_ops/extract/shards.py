"""Walk a day's candidate documents on several cores.

The walk is pure Python (one core), while DuckDB already uses every core for its query.
Documents are split by number (doc_no % shards): this process walks shard 0 straight
from its connection, and each other shard is exported to a Parquet file that a worker
process reads with its own in-memory DuckDB (a warehouse file cannot be opened by two
processes). Each document is walked on its own, so the split never changes a decision.
A worker is `python -m echo_ops.extract.shards PATH` (pickles in and out), not a
multiprocessing child: spawn would re-run the caller's __main__, whatever that is.
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
import tempfile
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from echo_ops.extract.settle import Document, as_event
from echo_ops.warehouse import insert_rows, read_sql

FETCH_ROWS = 20_000  # events fetched from DuckDB per round trip
MIN_CANDIDATES_PER_WORKER = 4_000  # below this, starting a process costs more than it saves
_DOC_NO = itemgetter(0)  # Event.doc_no
# What the walk reads of a candidate (a worker gets only these, not the prompts).
WALK_FIELDS = (
    "completion_id",
    "shown_ds",
    "server_ds",
    "has_server",
    "shown_line",
    "shown_character",
    "proposal_text",
    "position_encoding",
)


def walk_documents(con, ds, candidates: dict, lo, cfg, tmp_root: Path, progress=None):
    """(decisions, events read, workers' peak RSS in MB) for {(session, uri): [cand, ...]}."""
    from echo_ops.extract import Verdict, decide

    keys = sorted(candidates)
    _register_documents(con, keys, candidates)
    total = sum(len(v) for v in candidates.values())
    shards = max(1, min(cfg.walk_workers, total // MIN_CANDIDATES_PER_WORKER))
    cands = {n: candidates[key] for n, key in enumerate(keys)}
    params = {"lo": lo, "ds": ds, "shards": shards}
    sql = read_sql("extract/doc_events_for_candidates")
    decided, events_read, worker_rss_mb = [], 0, 0
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="echo-walk-", dir=tmp_root) as tmp:
        workers = []
        try:
            for k in range(1, shards):
                path = Path(tmp) / f"shard-{k}"
                con.execute(
                    f"copy ({sql}) to '{path}.parquet' (format parquet)", {**params, "shard": k}
                )
                light = {n: [_light(c) for c in cs] for n, cs in cands.items() if n % shards == k}
                workers.append((light, path, _start_worker(path, light, ds, cfg)))
            cur = con.execute(sql, {**params, "shard": 0})
            mine = {n: cs for n, cs in cands.items() if n % shards == 0}
            for n, doc in _by_document(cur, mine):
                decided += [decide(cand, doc, ds, cfg) for cand in mine[n]]
                events_read += len(doc.events)
                if progress:
                    progress(len(mine[n]))
            for light, path, proc in workers:
                rows, read, rss_mb = _finish_worker(path, proc)
                worker_rss_mb = max(worker_rss_mb, rss_mb)
                decided += [Verdict(cands[n][i], *rest) for n, i, *rest in rows]
                events_read += read
                if progress:
                    progress(sum(len(v) for v in light.values()))
        finally:
            for *_, proc in workers:  # this run failed (or was killed): no orphans
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return decided, events_read, worker_rss_mb


def _register_documents(con, keys: list, candidates: dict) -> None:
    """_cand_docs: the documents to walk, numbered in key order, from their first shown version."""
    con.execute(
        "create or replace temp table _cand_docs "
        "(doc_no bigint, session_id varchar, doc_uri varchar, min_version bigint)"
    )
    rows = [
        (n, s, u, min(c["shown_doc_version"] for c in candidates[(s, u)]))
        for n, (s, u) in enumerate(keys)
    ]
    insert_rows(con, "_cand_docs", ["doc_no", "session_id", "doc_uri", "min_version"], rows)


def _light(cand: dict[str, Any]) -> dict[str, Any]:
    return {k: cand[k] for k in WALK_FIELDS}


def _by_document(cur, wanted: dict):
    """(doc_no, Document) for each document of `wanted`, events in walk order; a document
    without events still comes (empty), so that no candidate is lost."""
    seen, doc_no, events = set(), None, []
    while batch := cur.fetchmany(FETCH_ROWS):
        for no, rows in groupby(map(as_event, batch), key=_DOC_NO):
            if no != doc_no:
                if doc_no is not None:
                    yield doc_no, Document(events)
                doc_no, events = no, []
                seen.add(no)
            events.extend(rows)
    if doc_no is not None:
        yield doc_no, Document(events)
    for n in sorted(set(wanted) - seen):
        yield n, Document([])


def _start_worker(path: Path, cands: dict, ds, cfg) -> subprocess.Popen:
    path.with_suffix(".in").write_bytes(pickle.dumps((cands, ds, dict(cfg))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "echo_ops.extract.shards", str(path)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish_worker(path: Path, proc: subprocess.Popen) -> tuple[list, int, int]:
    _, err = proc.communicate()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"walk worker for {path.name} failed (exit {proc.returncode}): {tail}")
    return pickle.loads(path.with_suffix(".out").read_bytes())


def _walk_file(path: Path) -> None:
    """A worker: walk one shard's documents from its Parquet file (already in walk order)."""
    import duckdb

    from echo_ops.extract import decide

    cands, ds, cfg = pickle.loads(path.with_suffix(".in").read_bytes())
    settings = SimpleNamespace(**cfg)
    con = duckdb.connect()
    con.execute("set threads = 1")  # the parent's DuckDB keeps the other cores busy
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    cur = con.execute("select * from read_parquet(?)", [f"{path}.parquet"])
    rows, read = [], 0
    for n, doc in _by_document(cur, cands):
        for i, cand in enumerate(cands[n]):
            d = decide(cand, doc, ds, settings)
            rows.append((n, i, d.action, d.outcome, d.reason))
        read += len(doc.events)
    path.with_suffix(".out").write_bytes(pickle.dumps((rows, read, _peak_rss_mb())))


def _peak_rss_mb() -> int:
    """This process's own peak RSS: Linux's ru_maxrss would start from the parent's at fork."""
    try:
        status = Path("/proc/self/status").read_text()
        return (
            int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) // 1024
        )
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


if __name__ == "__main__":
    _walk_file(Path(sys.argv[1]))
