"""Ingest: one landing day of client and server events into DuckDB raw tables.

Reads `{landing}/{client,server}/ds=D/*.jsonl[.gz]` (local dir or S3 via boto3) and
writes raw.client_events / raw.server_events (partition D), ops.quarantine (stage
ingest, day D), ops.manifest (day D) and ops.ingest_summary (day D). DuckDB parses
every line; only lines failing the SQL fast-path checks meet the JSON Schema in Python,
which decides (and names the reason). Objects load in parallel, in batches of bounded
size, so memory does not grow with the day. Re-running a day replaces that day: safe
(a run that failed half-way left no ops.ingest_summary row, so the next run redoes it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from echo_ops import storage
from echo_ops.config import Settings
from echo_ops.contract import CLIENT_EVENT_TYPES, first_error
from echo_ops.errors import DataError
from echo_ops.logs import get_logger, stage_run
from echo_ops.warehouse import ensure_pipeline_tables, insert_rows, limit_memory, read_sql

SOURCES = ("client", "server")
SCRATCH = "echo_scratch"  # an in-memory database for the day's parsed lines, shared by threads
RAW_TEXT_CAP = 2000  # quarantine keeps this many characters of a bad line
log = get_logger("ingest")


class IngestError(DataError):
    """A landing day is unusable as delivered (too many bad lines): fix the input, not the code."""


@dataclass
class IngestResult:
    ds: date
    objects: int = 0
    lines: int = 0
    loaded: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    changed_objects: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "objects": self.objects,
            "lines": self.lines,
            **{f"loaded_{k}": v for k, v in self.loaded.items()},
            **{f"duplicates_{k}": v for k, v in self.duplicates.items()},
            "quarantined": self.quarantined,
            "changed_objects": len(self.changed_objects),
        }


def ingest_day(con: duckdb.DuckDBPyConnection, ds: date, settings: Settings) -> IngestResult:
    """Load landing day `ds` into raw.*; quarantine bad lines; record the manifest.

    Raises IngestError (after recording everything) when the share of quarantined
    lines exceeds `extract.max_quarantine_rate`.
    """
    ensure_pipeline_tables(con)
    limit_memory(con, settings)
    result = IngestResult(ds=ds)
    with stage_run("ingest", ds=ds, landing=settings.storage.landing_uri) as counts:
        con.execute("set timezone = 'UTC'")
        # The summary is written last: a day without one was never (fully) ingested.
        con.execute("delete from ops.ingest_summary where ds = ?", [ds])
        con.execute("delete from ops.quarantine where ds = ? and stage = 'ingest'", [ds])
        for source in SOURCES:
            _ingest_source(con, ds, source, settings, result)
        counts.update(result.counts())
    _check_quarantine_rate(con, result, settings.extract.max_quarantine_rate)
    return result


def _ingest_source(con, ds: date, source: str, settings: Settings, result: IngestResult) -> None:
    """Rebuild raw.<source>_events for ds batch by batch (memory stays bounded), then dedup."""
    landing, store = settings.storage.landing_uri, settings.storage
    objects = [
        o
        for o in storage.list_objects(landing, f"{source}/ds={ds.isoformat()}", store)
        if o.key.endswith((".jsonl", ".jsonl.gz"))
    ]
    con.execute(f"attach if not exists ':memory:' as {SCRATCH}")
    con.execute(f"delete from raw.{source}_events where ds = ?", [ds])
    manifest_rows, tally = [], {"lines": 0, "valid": 0, "quarantined": 0}
    for batch in _batches(objects):
        with tempfile.TemporaryDirectory(prefix="echo-ingest-") as tmp:
            rows, bad_utf8 = _load_batch(con, source, settings, batch, Path(tmp))
        manifest_rows += rows
        _quarantine_rows(con, ds, source, bad_utf8)
        skip = {(k, n) for k, n, *_ in bad_utf8}
        _parse_and_load(con, ds, source, result, skip, tally, settings.extract.max_line_bytes)
        tally["quarantined"] += len(bad_utf8)
        _count_reasons(result, bad_utf8)
    _write_manifest(con, ds, source, manifest_rows, result)
    _dedup(con, ds, source, result, tally)
    result.objects += len(objects)


def _batches(objects: list, max_bytes: int = 32 << 20) -> list[list]:
    """Objects grouped so one batch's parsed lines fit comfortably in memory."""
    batches, current, size = [], [], 0
    for obj in objects:
        if current and size + obj.size_bytes > max_bytes:
            batches.append(current)
            current, size = [], 0
        current.append(obj)
        size += obj.size_bytes
    return [*batches, current] if current else batches or [[]]


def _load_batch(
    con, source: str, settings: Settings, objects: list, tmp: Path
) -> tuple[list, list]:
    """Parse a batch of objects in parallel into the scratch table; (manifest rows, bad UTF-8)."""
    max_bytes = settings.extract.max_line_bytes
    _parse_object(con, source, "(none)", _empty_file(tmp), max_bytes, create=True)

    def load(obj):  # objects load in parallel: a gzip stream is read by one thread
        cur = con.cursor()
        try:
            path, sha = _local_copy(settings.storage, obj.key, tmp)
            n_lines, bad = _load_object(cur, source, path, obj.key, tmp, max_bytes)
        finally:
            cur.close()
        return (obj.key, obj.size_bytes, sha, n_lines), bad

    rows, bad_utf8 = [], []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for row, bad in pool.map(load, objects):
            bad_utf8 += [(row[0], no, "invalid_utf8", text) for no, text in bad]
            rows.append(row)
    return rows, bad_utf8


def _empty_file(tmp: Path) -> Path:
    path = tmp / "empty.jsonl"
    path.write_bytes(b"")
    return path


def _local_copy(store, key: str, tmp: Path) -> tuple[Path, str]:
    """A local path DuckDB can read, and the object's sha256 (S3 objects are downloaded)."""
    landing = store.landing_uri
    if storage.is_s3(landing):
        data = storage.read_bytes(landing, key, store)
        path = tmp / key.replace("/", "__")
        path.write_bytes(data)
        return path, hashlib.sha256(data).hexdigest()
    path = Path(landing) / key
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return path, digest.hexdigest()


def _load_object(
    con, source: str, path: Path, key: str, tmp: Path, max_bytes: int
) -> tuple[int, list]:
    """Parse one object into the day's checked lines; returns (lines, non-UTF-8 lines)."""
    try:
        return _parse_object(con, source, key, path, max_bytes), []
    except duckdb.InvalidInputException as exc:
        if "unicode" not in str(exc).lower() and "utf-8" not in str(exc).lower():
            raise
    # Rare: bytes that are not UTF-8. Blank those lines (keeping the numbering) and let
    # DuckDB read the rest as usual; the caller quarantines the blanked ones.
    cleaned = tmp / f"utf8-{key.replace('/', '__')}.jsonl"
    bad = _blank_non_utf8(path, cleaned)
    return _parse_object(con, source, key, cleaned, max_bytes), bad


def _parse_object(
    con, source: str, key: str, path: Path, max_line_bytes: int, create: bool = False
) -> int:
    """Append one object's lines, parsed and checked, to _checked_<source>_lines."""
    table = f"{SCRATCH}._checked_{source}_lines"
    select = read_sql(f"raw/checked_{source}_lines")
    params = {"key": key, "path": str(path), "max_line_bytes": max_line_bytes}
    if create:
        con.execute(f"create or replace table {table} as {select}", params)
        return 0
    (inserted,) = con.execute(f"insert into {table} {select}", params).fetchone()
    return int(inserted)


def _blank_non_utf8(src: Path, dst: Path) -> list[tuple[int, str]]:
    opener = gzip.open if src.name.endswith(".gz") else open
    bad: list[tuple[int, str]] = []
    with opener(src, "rb") as fin, dst.open("wb") as fout:
        for no, raw in enumerate(fin, start=1):
            try:
                raw.decode("utf-8")
                fout.write(raw)
            except UnicodeDecodeError:
                bad.append((no, raw.decode("utf-8", "replace")[:RAW_TEXT_CAP]))
                fout.write(b"\n")
    return bad


def _write_manifest(con, ds: date, source: str, rows: list[tuple], result: IngestResult) -> None:
    """Record each object; `changed` when a key was loaded before with other bytes."""
    prior = dict(
        con.execute(
            "select object_key, sha256 from ops.manifest where source = ? "
            "qualify row_number() over (partition by object_key order by loaded_at desc) = 1",
            [source],
        ).fetchall()
    )
    con.execute("delete from ops.manifest where ds = ? and source = ?", [ds, source])
    records = []
    for key, size, sha, n_lines in rows:
        status = "new" if key not in prior else ("unchanged" if prior[key] == sha else "changed")
        if status == "changed":
            result.changed_objects.append(key)
            log.warning("landing object changed since last load: %s (sha256 now %s)", key, sha)
        records.append((ds, source, key, size, sha, n_lines, status))
        result.lines += n_lines
    # One statement: a row-at-a-time insert commits (and syncs) once per object.
    insert_rows(con, "ops.manifest",
                ["ds", "source", "object_key", "size_bytes", "sha256", "lines", "status"], records)  # fmt: skip


def _quarantine_rows(con, ds: date, source: str, rows: list[tuple]) -> None:
    """rows: (object_key, line_no, reason, raw_text)."""
    insert_rows(
        con,
        "ops.quarantine",
        ["ds", "stage", "source", "object_key", "line_no", "reason", "raw_text"],
        [(ds, "ingest", source, k, n, r, (t or "")[:RAW_TEXT_CAP]) for k, n, r, t in rows],
    )


def _parse_and_load(
    con, ds: date, source: str, result: IngestResult, skip: set, tally, max_line_bytes: int
) -> None:
    """Judge the lines the fast path refused, quarantine the bad, append the rest to raw.

    `skip`: (object, line) already quarantined (bytes that were not UTF-8)."""
    table = f"{SCRATCH}._checked_{source}_lines"
    typed_missing = "c.doc_version is null" if source == "client" else "c.latency_ms is null"
    suspects = con.execute(
        f"select object_key, line_no, line, ts is null or {typed_missing} from {table} as c "
        f"where not is_fast_ok order by 1, 2"
    ).fetchall()
    rescued, bad = [], []
    for key, no, line, unreadable in suspects:
        if (key, no) in skip:
            continue
        reason = _judge(line, source, unreadable, max_line_bytes)
        if reason is None:
            rescued.append((key, no))
        else:
            bad.append((key, no, reason, line))
    con.execute("create or replace temp table _schema_ok (object_key varchar, line_no bigint)")
    insert_rows(con, "_schema_ok", ["object_key", "line_no"], rescued)
    _quarantine_rows(con, ds, source, bad)
    _count_reasons(result, bad)
    (fast_ok, lines) = con.execute(
        f"select count(*) filter (is_fast_ok), count(*) from {table}"
    ).fetchone()
    tally["lines"] += lines
    tally["valid"] += fast_ok + len(rescued)
    tally["quarantined"] += len(bad)
    con.execute(
        f"insert into raw.{source}_events by name {read_sql(f'raw/{source}_events')}", {"ds": ds}
    )
    con.execute(f"drop table {table}")


def _count_reasons(result: IngestResult, bad: list[tuple]) -> None:
    for *_, reason, _text in bad:
        category = reason.split(":", 1)[0]
        result.by_reason[category] = result.by_reason.get(category, 0) + 1
    result.quarantined += len(bad)


def _dedup(con, ds: date, source: str, result: IngestResult, tally: dict) -> None:
    """Keep the first copy of each key of the day; quarantine copies that differ from it."""
    key_col = "event_id" if source == "client" else "request_id"
    table = f"raw.{source}_events"
    names = {"source": source, "key": key_col}
    con.execute(read_sql("raw/event_copies").format(**names), {"ds": ds})
    conflicts = con.execute(
        read_sql("raw/event_copy_conflicts").format(**names), {"ds": ds}
    ).fetchall()
    _quarantine_rows(con, ds, source, conflicts)
    _count_reasons(result, conflicts)
    con.execute(
        f"delete from {table} as r where ds = $ds and exists (select 1 from _copies c "
        "where c.copy_no > 1 and c.object_key = r.object_key and c.line_no = r.line_no)",
        {"ds": ds},
    )
    (loaded,) = con.execute(f"select count(*) from {table} where ds = ?", [ds]).fetchone()
    result.loaded[source] = loaded
    result.duplicates[source] = tally["valid"] - loaded
    con.execute("delete from ops.ingest_summary where ds = ? and source = ?", [ds, source])
    con.execute(
        "insert into ops.ingest_summary values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ds,
            source,
            len(
                {
                    k
                    for k, *_ in con.execute(
                        "select object_key from ops.manifest where ds = ? and source = ?",
                        [ds, source],
                    ).fetchall()
                }
            ),
            tally["lines"],
            tally["valid"],
            tally["valid"] - loaded,
            loaded,
            _count_quarantined(con, ds, source),
        ],
    )


def _count_quarantined(con, ds: date, source: str) -> int:
    return con.execute(
        "select count(*) from ops.quarantine where ds = ? and stage = 'ingest' and source = ?",
        [ds, source],
    ).fetchone()[0]


def _judge(line: str | None, source: str, unreadable: bool, max_line_bytes: int) -> str | None:
    """Why a line that failed the fast path is bad, or None when the JSON Schema accepts it."""
    if line is None or not line.strip():
        return "empty_line: a blank line holds no event"
    size = len(line.encode("utf-8", "surrogatepass"))
    if size > max_line_bytes:
        return f"oversize_line: {size} bytes, over the {max_line_bytes}-byte line limit"
    try:
        event = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid_json: {exc.msg} at column {exc.colno}"
    error = first_error(event, source)
    if error is not None:
        return error
    if unreadable:  # valid for the schema, yet a typed column cannot hold it (e.g. 3.0)
        return f"unreadable_value: ts {str(event.get('ts'))[:40]!r} or a number DuckDB cannot type"
    if source == "client" and event.get("type") not in CLIENT_EVENT_TYPES:
        return f"schema: type: unknown event type {event.get('type')!r}"
    return None


def _check_quarantine_rate(con, result: IngestResult, max_rate: float) -> None:
    if not result.lines or result.quarantined / result.lines <= max_rate:
        return
    examples = con.execute(
        "select object_key, line_no, reason from ops.quarantine "
        "where ds = ? and stage = 'ingest' order by object_key, line_no limit 3",
        [result.ds],
    ).fetchall()
    shown = "; ".join(f"{k} line {n}: {r}" for k, n, r in examples)
    raise IngestError(
        f"ingest {result.ds}: {result.quarantined} of {result.lines} lines quarantined "
        f"({result.quarantined / result.lines:.2%} > max_quarantine_rate {max_rate:.2%}); "
        f"by reason {dict(sorted(result.by_reason.items()))}; e.g. {shown}"
    )


def ingested_days(con: duckdb.DuckDBPyConnection) -> set[date]:
    """Landing days fully ingested (ops.ingest_summary is written last)."""
    ensure_pipeline_tables(con)
    return {d for (d,) in con.execute("select distinct ds from ops.ingest_summary").fetchall()}
