"""Walk one shard of a plan: its Parquet inputs in, its decisions out, no warehouse.

Reads shard-NNN/candidates.parquet and events.parquet of a plan (extract/plan.py) with
its own in-memory DuckDB; writes shard-NNN/decisions.parquet: one row per candidate
(action, reason, and for an extracted one its staging.refinements columns, typed by the
warehouse's own DDL), renamed into place, so a retried shard overwrites its own file and
the merge never reads half of one. The events walked and the walk workers' peak RSS ride
in the file's Parquet metadata.

The walk is pure Python (one core), so a big shard splits again by document number over
`walk_workers` processes on its machine: this process walks part 0, each other part is
`python -m echo_ops.extract.shards SHARD_DIR PARTS PART MEMORY_LIMIT` (its own DuckDB
reads the same files; rows come back pickled), not a multiprocessing child: spawn would
re-run the caller's __main__, whatever that is. Each document is walked on its own, so
no split changes a decision.
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import duckdb

from echo_ops.extract.plan import read_plan
from echo_ops.extract.settle import Document, as_event
from echo_ops.extract.writer import create_decisions_table, decision_row
from echo_ops.warehouse import insert_rows, quote_literal, run_sql_file

DECISIONS_FILE = "decisions.parquet"
FETCH_ROWS = 20_000  # events fetched from DuckDB per round trip
MIN_CANDIDATES_PER_WORKER = 4_000  # below this, starting a process costs more than it saves
_DOC_NO = itemgetter(0)  # Event.doc_no


def walk_shard(shard_dir: Path, walk_workers: int, memory_limit: str, progress=None) -> dict:
    """Walk one shard and write its decisions.parquet; returns its counts. Safe to re-run."""
    ds = read_plan(shard_dir.parent).ds
    con = duckdb.connect()
    (n,) = con.execute(
        "select count(*) from read_parquet(?)", [str(shard_dir / "candidates.parquet")]
    ).fetchone()
    parts = max(1, min(walk_workers, n // MIN_CANDIDATES_PER_WORKER))
    workers = [_start_worker(shard_dir, parts, p, memory_limit) for p in range(1, parts)]
    try:
        rows, events_read = walk_part(shard_dir, parts, 0, memory_limit, progress)
        rss_mb = 0
        for p, proc in enumerate(workers, start=1):
            more, read, peak = _finish_worker(shard_dir, p, proc)
            rows, events_read, rss_mb = rows + more, events_read + read, max(rss_mb, peak)
            if progress:
                progress(len(more))
    finally:
        for proc in workers:  # this shard failed (or was killed): no orphans
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    counts = {"shard": shard_dir.name, "candidates": n, "events_read": events_read,
              "walk_workers": parts, "worker_peak_rss_mb": rss_mb}  # fmt: skip
    _write_decisions(shard_dir, ds, rows, counts)
    return counts


def walk_part(shard_dir: Path, parts: int, part: int, memory_limit: str, progress=None):
    """(decision rows, events read) for the documents of one part of a shard."""
    from echo_ops.extract import decide

    plan = read_plan(shard_dir.parent)
    ds, cfg = plan.ds, plan.decision_settings
    con = duckdb.connect()
    con.execute("set memory_limit = ?", [memory_limit])
    if part:
        con.execute("set threads = 1")  # the other parts keep the other cores busy
    where = {"parts": parts, "part": part}
    cur = con.execute(
        "select * from read_parquet($path) where doc_no % $parts = $part",
        {**where, "path": str(shard_dir / "candidates.parquet")},
    )
    names = [d[0] for d in cur.description]
    cands: dict[int, list[dict]] = {}
    for row in cur.fetchall():
        cand = dict(zip(names, row, strict=True))
        cands.setdefault(cand["doc_no"], []).append(cand)
    cur = con.execute(  # insertion order is kept: the plan wrote the events in walk order
        "select * from read_parquet($path) where doc_no % $parts = $part",
        {**where, "path": str(shard_dir / "events.parquet")},
    )
    rows, read = [], 0
    for n, doc in _by_document(cur, cands):
        rows += [decision_row(decide(cand, doc, ds, cfg), ds) for cand in cands[n]]
        read += len(doc.events)
        if progress:
            progress(len(cands[n]))
    return rows, read


def _write_decisions(shard_dir: Path, ds, rows: list[tuple], counts: dict) -> None:
    con = duckdb.connect()
    run_sql_file(con, "ddl/schemas")
    run_sql_file(con, "ddl/extract")
    columns = create_decisions_table(con)
    insert_rows(con, "_decisions", columns, rows)
    final = shard_dir / DECISIONS_FILE
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    meta = ", ".join(f"{k}: {quote_literal(v)}" for k, v in counts.items())
    con.execute(f"copy _decisions to {quote_literal(tmp)} (format parquet, kv_metadata {{{meta}}})")
    os.replace(tmp, final)


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


def _start_worker(shard_dir: Path, parts: int, part: int, memory_limit: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "echo_ops.extract.shards", str(shard_dir), str(parts),
           str(part), memory_limit]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _part_file(shard_dir: Path, part: int) -> Path:
    return shard_dir / f".part-{part}.pickle"


def _finish_worker(shard_dir: Path, part: int, proc: subprocess.Popen) -> tuple[list, int, int]:
    _, err = proc.communicate()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(
            f"walk worker {part} of {shard_dir.name} failed (exit {proc.returncode}): {tail}"
        )
    path = _part_file(shard_dir, part)
    out = pickle.loads(path.read_bytes())
    path.unlink()
    return out


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
    _dir, _parts, _part, _limit = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    _rows, _read = walk_part(_dir, _parts, _part, _limit)
    _part_file(_dir, _part).write_bytes(pickle.dumps((_rows, _read, _peak_rss_mb())))
