"""Adapters: the logs open code assistants already write, turned into v1 events.

Each adapter (`continue_dev`, `tabby`) is a pure function from a file's lines to a
`Conversion`: v1 client and server events, each with the landing day it belongs to, the
lines it refused (line, reason) and what it skipped on purpose, counted. Nothing here
touches storage or the warehouse: `echo_ops.adapters.importer` writes the results.
What each source can and cannot give: docs/imports.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any

# Bumped whenever a converted event could differ for the same input line: it is stored on
# every imported event (`import.adapter_version`) and in ops.import_files.
ADAPTER_VERSION = "1"
SOURCES = ("continue", "tabby")
RAW_TEXT_CAP = 2000

_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".jsx": "javascriptreact", ".ts": "typescript",
    ".tsx": "typescriptreact", ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".scala": "scala", ".sh": "shellscript",
    ".sql": "sql", ".md": "markdown", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
    ".html": "html", ".css": "css", ".lua": "lua",
}  # fmt: skip


class AdapterLineError(ValueError):
    """One source line cannot become an event; the message is the quarantine reason."""


@dataclass
class Bad:
    line_no: int  # 1-based line in the source file
    reason: str
    raw: str
    day: date | None = None  # the line's own day when it could be read


@dataclass
class Conversion:
    """What one source file became."""

    source: str
    events: list[tuple[str, date, dict[str, Any]]] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def emit(self, stream: str, day: date, event: dict[str, Any]) -> None:
        self.events.append((stream, day, event))
        self.counts[f"events_{stream}"] += 1

    def refuse(self, line_no: int, reason: str, raw: str, day: date | None = None) -> None:
        self.bad.append(Bad(line_no, reason[:300], scrub_users(raw)[:RAW_TEXT_CAP], day))
        self.counts["quarantined"] += 1


# The user fields of both sources, as JSON text: a quarantined line keeps everything else.
_USER_FIELDS = re.compile(r'("(?:userId|user|uniqueId)"\s*:\s*)"(?:[^"\\]|\\.)*"')


def scrub_users(raw: str) -> str:
    """A refused line as it may be stored: user ids (Continue's may be a credential) removed."""
    return _USER_FIELDS.sub(r'\1"<removed>"', raw)


def parse_ts(value: Any) -> datetime:
    """An ISO 8601 string or epoch milliseconds (number or digits) as an aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        raise AdapterLineError(f"bad_timestamp: {value!r}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise AdapterLineError(f"bad_timestamp: {value!r}") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise AdapterLineError(f"bad_timestamp: {value[:40]!r}") from exc
        # A timestamp without an offset is taken as UTC (what JS toISOString writes anyway).
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise AdapterLineError(f"bad_timestamp: {type(value).__name__}")


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def pseudonym(source: str, raw_user: str | None, key: str) -> str:
    """A user id safe to store: a keyed hash (HMAC-SHA256) of the source's id, never the id.

    Continue's userId can hold the `continue.userToken` setting, a credential. Without a key
    the id is dropped (all of a source's users become one), because an unkeyed hash of a
    token can be checked against a guessed token."""
    if not raw_user:
        return f"{source}:anonymous"
    if not key:
        return f"{source}:unkeyed"
    digest = hmac.new(key.encode(), f"{source}\0{raw_user}".encode(), hashlib.sha256)
    return f"{source}:u-{digest.hexdigest()[:16]}"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def end_of(text: str) -> dict[str, int]:
    """The LSP position just after `text` (UTF-16 columns)."""
    return {"line": text.count("\n"), "character": utf16_len(text.rsplit("\n", 1)[-1])}


def language_of(path: str) -> str:
    return _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "plaintext")


def provenance(source: str, schema: str, file_name: str, line_no: int) -> dict[str, Any]:
    """Stored on every imported event: where it came from and which adapter made it."""
    return {
        "source": source,
        "source_schema": schema,
        "adapter_version": ADAPTER_VERSION,
        "file": file_name,
        "line": line_no,
    }


def shown_event(
    *,
    source: str,
    completion_id: str,
    shown_at: datetime,
    user_id: str,
    doc_uri: str,
    language_id: str,
    prompt_prefix: str,
    proposal: str,
    schema: str,
    origin: dict[str, Any],
) -> dict[str, Any]:
    """The v1 `completion.shown` of an imported completion (position: in the model's prompt,
    the only text either source keeps; doc.version 0: neither source counts edits)."""
    position = end_of(prompt_prefix)
    return {
        **_client_base(source, completion_id, "shown", shown_at, user_id, schema, origin),
        "type": "completion.shown",
        "doc": {"uri": doc_uri, "version": 0, "language_id": language_id},
        "completion_id": completion_id,
        "request_id": f"{source}:{completion_id}",
        "position": position,
        "items": [{"insert_text": proposal, "range": {"start": position, "end": position}}],
    }


def decision_event(
    kind: str,
    *,
    source: str,
    completion_id: str,
    at: datetime,
    user_id: str,
    doc: dict[str, Any],
    schema: str,
    origin: dict[str, Any],
    id_suffix: str,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """A v1 `completion.accepted` / `completion.rejected` (kind: accepted | rejected)."""
    return {
        **_client_base(source, completion_id, id_suffix, at, user_id, schema, origin),
        "type": f"completion.{kind}",
        "doc": doc,
        "completion_id": completion_id,
        **detail,
    }


def server_event(
    *,
    source: str,
    completion_id: str,
    at: datetime,
    model_version: str,
    prefix: str,
    suffix: str,
    completion: str,
    latency_ms: float | None,
    origin: dict[str, Any],
) -> dict[str, Any]:
    event = {
        "schema_version": 1,
        "request_id": f"{source}:{completion_id}",
        "ts": rfc3339(at),
        "model_version": model_version,
        "prompt": {"prefix": prefix, "suffix": suffix},
        "completion": completion,
        # v1 wants a number; a source that does not time its requests says so beside it
        "latency_ms": latency_ms if latency_ms is not None else 0,
        "import": origin,
    }
    if latency_ms is None:
        event["latency_unknown"] = True
    return event


def _client_base(source, completion_id, suffix, at, user_id, schema, origin) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"{source}:{completion_id}:{suffix}",
        "ts": rfc3339(at),
        "user_id": user_id,
        # neither source has editor sessions: one per pseudonymous user and day
        "session_id": f"{user_id}:{at.date().isoformat()}",
        "client": {"name": source, "version": schema, "position_encoding": "utf-16"},
        "import": origin,
    }


def dumps(event: dict[str, Any]) -> str:
    """Deterministic JSON: the same input line gives the same bytes on every import."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read_json_line(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AdapterLineError(f"invalid_json: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise AdapterLineError(f"not_an_object: a JSON {type(value).__name__}")
    return value


def need_str(obj: dict[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        got = "missing" if value is None else type(value).__name__
        raise AdapterLineError(f"missing_field: {where}{key} ({got})")
    return value
