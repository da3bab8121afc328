"""Import: open assistants' log files -> v1 landing objects, once per file content.

Reads local files (`echo-ops import`) or `{landing}/continue/**` and `{landing}/tabby/**`
(echo_daily's import step, when `imports.sources` names them). Writes
`{landing}/{client,server}/ds=D/import-<source>-<sha16>.jsonl` (one object per landing day
the file's events belong to), ops.quarantine (stage import: file, line, reason) and
ops.import_files. A file whose sha256 is already in ops.import_files is not converted
again, so re-importing it adds nothing; a file that grew (Continue appends) is converted
whole, and its earlier lines give the same event ids and bytes, which ingest counts as
duplicates. Days that were ingested before and receive events now are returned as
`stale_days`: re-run echo_daily for them. Safe to re-run.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path, PurePosixPath

import duckdb

from echo_ops import storage
from echo_ops.adapters import ADAPTER_VERSION, SOURCES, Conversion, dumps
from echo_ops.config import Settings, StorageSettings
from echo_ops.errors import DataError
from echo_ops.logs import get_logger, stage_run
from echo_ops.warehouse import run_sql_file, table_exists

log = get_logger("import")


class ImportInputError(DataError):
    """An import was asked for something that is not there (a missing file, a bad source)."""


@dataclass(frozen=True)
class SourceFile:
    key: str  # how ops.* name it: a landing key or a local path
    data: bytes
    context: bytes | None = None  # the file read beside it to link events (_context_name)

    @property
    def name(self) -> str:
        return PurePosixPath(self.key.replace("\\", "/")).name

    @cached_property  # hashed once: a Continue log can be hundreds of MB
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ImportResult:
    source: str
    files: int = 0
    unchanged: int = 0  # files imported before with the same bytes: nothing added
    objects: int = 0
    events: int = 0
    quarantined: int = 0
    days: set[date] = field(default_factory=set)
    stale_days: set[date] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)

    def summary(self) -> dict:
        return {
            "source": self.source,
            "files": self.files,
            "unchanged": self.unchanged,
            "objects": self.objects,
            "events": self.events,
            "quarantined": self.quarantined,
            "days": sorted(d.isoformat() for d in self.days),
            "stale_days": sorted(d.isoformat() for d in self.stale_days),
            "counts": dict(sorted(self.counts.items())),
        }


def import_files(
    con: duckdb.DuckDBPyConnection, source: str, files: list[SourceFile], settings: Settings
) -> ImportResult:
    """Convert each file not imported before and write its events to the landing zone."""
    if source not in SOURCES:
        raise ImportInputError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    run_sql_file(con, "ddl/imports")
    result = ImportResult(source)
    ingested = _ingested_days(con)
    with stage_run("import", source=source, given=len(files)) as counts:
        for f in files:
            if _imported_before(con, source, f.sha256):
                result.unchanged += 1
                continue
            key = settings.imports.user_id_key.get_secret_value()
            if source == "continue" and is_next_edit_log(f.name):
                conversion = _link_next_edits(con, f, key)
            else:
                conversion = convert(source, f, key)
            _write(con, f, conversion, settings, result)
        result.stale_days = result.days & ingested
        if result.stale_days:
            log.warning("import %s: events for days ingested before: re-run echo_daily for %s",
                        source, ", ".join(sorted(d.isoformat() for d in result.stale_days)))  # fmt: skip
        counts.update({k: v for k, v in result.summary().items() if isinstance(v, int)})
    return result


def _ingested_days(con) -> set[date]:
    if not table_exists(con, "ops.ingest_summary"):
        return set()
    return {d for (d,) in con.execute("select distinct ds from ops.ingest_summary").fetchall()}


def convert(source: str, f: SourceFile, user_key: str) -> Conversion:
    """The adapter for `source` on one file (pure: no storage, no warehouse)."""
    lines = _lines(f.data)
    if source == "continue":
        from echo_ops.adapters import continue_dev

        return continue_dev.convert(lines, f.name, user_key, continue_dev.layout_of(f.key))
    from echo_ops.adapters import tabby

    context = _lines(f.context) if f.context is not None else None
    return tabby.convert(lines, f.name, user_key, context)


def is_next_edit_log(name: str) -> bool:
    return name.startswith("nextEditWithHistory") and name.endswith(".jsonl")


def _link_next_edits(con, f: SourceFile, user_key: str) -> Conversion:
    """Link a nextEditWithHistory file's clusters to the accepted completions of the
    autocomplete log beside it (f.context); links go to staging.imported_refinements."""
    from echo_ops.adapters import continue_next_edit

    beside = SourceFile(f.key.rsplit("/", 1)[0] + "/autocomplete.jsonl", f.context or b"")
    accepted = continue_next_edit.accepted_from(convert("continue", beside, user_key))
    links, conversion = continue_next_edit.link(_lines(f.data), accepted)
    con.execute("delete from staging.imported_refinements where source_file = ?", [f.key])
    for k in links:
        con.execute(
            "insert into staging.imported_refinements values (?, ?, 'continue', ?, ?, ?, ?, "
            "'next_edit_with_history', ?, ?, ?)",
            [k.accepted_at.date(), k.completion_id, k.proposal_text, k.final_text, k.confidence,
             k.gap_s, f.key, k.line_no, ADAPTER_VERSION],
        )  # fmt: skip
    if f.context is None:
        conversion.counts["next_edit_without_autocomplete_log"] += 1
    return conversion


def _lines(data: bytes) -> list[str]:
    # A line that is not UTF-8 keeps its number and reaches the adapter as replacement
    # characters, which its JSON parse or fields then refuse with the line number.
    text = data.decode("utf-8", "replace")
    return text.removesuffix("\n").split("\n") if text else []


def _imported_before(con, source: str, sha: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from ops.import_files where source = ? and sha256 = ?", [source, sha]
        ).fetchone()[0]
    )


def _write(con, f: SourceFile, conv: Conversion, settings: Settings, result: ImportResult) -> None:
    by_object: dict[str, list[str]] = {}
    for stream, day, event in conv.events:
        key = f"{stream}/ds={day.isoformat()}/import-{conv.source}-{f.sha256[:16]}.jsonl"
        by_object.setdefault(key, []).append(dumps(event))
        result.days.add(day)
    for key, lines in sorted(by_object.items()):
        data = ("\n".join(lines) + "\n").encode()
        storage.write_bytes(settings.storage.landing_uri, key, data, settings.storage)
    fallback = _file_day(f.name) or datetime.now(UTC).date()
    con.execute("delete from ops.quarantine where stage = 'import' and object_key = ?", [f.key])
    for bad in conv.bad:
        con.execute(
            "insert into ops.quarantine (ds, stage, source, object_key, line_no, reason, raw_text) "
            "values (?, 'import', ?, ?, ?, ?, ?)",
            [bad.day or fallback, conv.source, f.key, bad.line_no, bad.reason, bad.raw],
        )
    days = sorted({d.isoformat() for _, d, _ in conv.events})
    con.execute(
        "insert into ops.import_files (source, object_key, sha256, size_bytes, lines, events, "
        "quarantined, days, counts_json, adapter_version) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [conv.source, f.key, f.sha256, len(f.data), conv.counts["lines"], len(conv.events),
         len(conv.bad), ",".join(days), json.dumps(dict(sorted(conv.counts.items()))),
         ADAPTER_VERSION],
    )  # fmt: skip
    result.files += 1
    result.objects += len(by_object)
    result.events += len(conv.events)
    result.quarantined += len(conv.bad)
    result.counts.update(conv.counts)
    log.info("imported %s: %d events into %d objects, %d lines quarantined",
             f.key, len(conv.events), len(by_object), len(conv.bad))  # fmt: skip


def _file_day(name: str) -> date | None:
    try:
        return date.fromisoformat(name.split(".", 1)[0])
    except ValueError:
        return None


def _context_name(source: str, name: str) -> str | None:
    """The file read beside `name` to link its events: Tabby's previous day, or the
    autocomplete log next to Continue's nextEditWithHistory."""
    if source == "continue":
        return "autocomplete.jsonl" if is_next_edit_log(name) else None
    day = _file_day(name)
    return None if day is None else f"{(day - timedelta(days=1)).isoformat()}.json"


def local_files(source: str, paths: list[Path]) -> list[SourceFile]:
    """Local files named on the command line (Tabby: with the previous day's sibling)."""
    files = []
    for path in paths:
        if not path.is_file():
            raise ImportInputError(f"no such file: {path}")
        context = None
        prev = _context_name(source, path.name)
        if prev and (path.parent / prev).is_file():
            context = (path.parent / prev).read_bytes()
        files.append(SourceFile(str(path.resolve()), path.read_bytes(), context))
    return files


def landing_files(source: str, store: StorageSettings) -> list[SourceFile]:
    """`{landing}/<source>/**`: Continue's autocomplete logs, Tabby's day files, in key order."""
    landing = store.landing_uri
    objects = {o.key: o for o in storage.list_objects(landing, source, store)}
    files = []
    for key in sorted(objects):
        name = PurePosixPath(key).name
        if source == "continue" and not (
            (name.startswith("autocomplete") and name.endswith(".jsonl")) or is_next_edit_log(name)
        ):
            continue
        if source == "tabby" and _file_day(name) is None:
            continue
        context = None
        prev = _context_name(source, name)
        prev_key = str(PurePosixPath(key).with_name(prev)) if prev else None
        if prev_key in objects:
            context = storage.read_bytes(landing, prev_key, store)
        files.append(SourceFile(key, storage.read_bytes(landing, key, store), context))
    return files


def import_landing(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
    """echo_daily's import step: every new file of each source in `imports.sources`."""
    summary: dict = {"sources": list(settings.imports.sources)}
    for source in settings.imports.sources:
        files = landing_files(source, settings.storage)
        result = import_files(con, source, files, settings)
        summary |= {
            f"{source}_files": result.files,
            f"{source}_unchanged": result.unchanged,
            f"{source}_events": result.events,
            f"{source}_quarantined": result.quarantined,
            f"{source}_stale_days": len(result.stale_days),
        }
    return summary
