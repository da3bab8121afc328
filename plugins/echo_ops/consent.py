"""Consent and erasure: opted-out users never train a model; `forget` removes a user everywhere.

Places a user's data lives: every warehouse table with a `user_id` column (found from
information_schema, so tables added later are covered), tables keyed by the user's
`request_id`s (server logs carry no user id, but their prompts are the user's code),
quarantined raw lines, the published analyst copy, the landing zone (local or S3) and
the simulator's truth files. `ops.consent` keeps the user opted out afterwards, so a
late-arriving event cannot bring them back into training.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from echo_ops import storage
from echo_ops.config import Settings
from echo_ops.logs import stage_run
from echo_ops.warehouse import publish_snapshot

_REQUEST_ID = re.compile(r'"request_id"\s*:\s*"([^"]+)"')


@dataclass
class ErasureReport:
    erasure_id: str
    removed: dict[str, int] = field(default_factory=dict)  # place -> rows/lines removed

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def set_consent(con: duckdb.DuckDBPyConnection, user_id: str, opted_out: bool) -> dict:
    """Record a user's training consent in ops.consent (upsert; safe to repeat)."""
    con.execute(
        "insert or replace into ops.consent (user_id, opted_out, updated_at) values (?, ?, now())",
        [user_id, opted_out],
    )
    return {"user_id": user_id, "opted_out": opted_out}


def opted_out_users(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {u for (u,) in con.execute("select user_id from ops.consent where opted_out").fetchall()}


def filter_consented(
    con: duckdb.DuckDBPyConnection, rows: Iterable[dict]
) -> tuple[list[dict], int]:
    """Drop rows of opted-out users (builders of training sets call this); returns (rows, dropped)."""
    out = opted_out_users(con)
    rows = list(rows)
    kept = [r for r in rows if r.get("user_id") not in out]
    return kept, len(rows) - len(kept)


def forget_user(
    con: duckdb.DuckDBPyConnection,
    user_id: str,
    settings: Settings,
    requested_by: str = "echo-ops",
) -> ErasureReport:
    """Erase `user_id` from every layer, the published copy, the landing zone and truth.

    Writes ops.consent (opted out) and one ops.erasure_audit row per place. Safe to
    re-run: a second run finds nothing left and records zeros.
    """
    if not user_id or not user_id.strip():
        raise ValueError("forget needs a non-empty user id")
    landing = settings.storage.landing_uri
    report = ErasureReport(uuid.uuid4().hex[:12])
    with stage_run("forget", erasure_id=report.erasure_id) as counts:
        set_consent(con, user_id, True)
        ids = _warehouse_ids(con, user_id)
        landing_removed = _erase_landing_client(landing, user_id, ids, settings.storage)
        report.removed.update(_erase_warehouse(con, user_id, ids))
        report.removed.update(landing_removed)
        report.removed.update(_erase_landing_server(landing, ids["request_id"], settings.storage))
        report.removed.update(_erase_truth(Path(settings.storage.truth_dir), user_id))
        con.execute("force checkpoint")  # deleted rows must not linger in the WAL
        report.removed["published_copy"] = _republish(con, settings)
        _audit(con, report, user_id, requested_by)
        counts.update(places=len(report.removed), removed=report.total)
    return report


# Rows of tables without a user_id (server logs, bookkeeping) are the user's through these.
_LINK_COLUMNS = ("request_id", "completion_id")


def _warehouse_ids(con, user_id: str) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {col: set() for col in _LINK_COLUMNS}
    for col in _LINK_COLUMNS:
        for table in _tables_with(con, "user_id") & _tables_with(con, col):
            q = f"select distinct {col} from {table} where user_id = ? and {col} is not null"
            ids[col] |= {str(r) for (r,) in con.execute(q, [user_id]).fetchall()}
    return ids


def _tables_with(con, column: str) -> set[str]:
    rows = con.execute(
        "select c.table_schema || '.' || c.table_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where c.column_name = ? and t.table_type = 'BASE TABLE' "
        "and c.table_catalog = current_database()",
        [column],
    ).fetchall()
    return {r for (r,) in rows}


def _erase_warehouse(con, user_id: str, ids: dict[str, set[str]]) -> dict[str, int]:
    removed: dict[str, int] = {}
    by_user = _tables_with(con, "user_id") - {"ops.consent"}
    # A one-element list keeps the parameter's type known when there is nothing to match.
    lists = {col: sorted(ids[col]) or [""] for col in _LINK_COLUMNS}
    con.execute("begin transaction")
    try:
        for table in sorted(by_user):
            removed[table] = _delete(con, f"delete from {table} where user_id = ?", [user_id])
        for col in _LINK_COLUMNS:
            for table in sorted(_tables_with(con, col) - by_user):
                sql = f"delete from {table} where list_contains(?, {col}::varchar)"
                removed[table] = removed.get(table, 0) + _delete(con, sql, [lists[col]])
        for table, col in (("ops.quarantine", "raw_text"), ("ops.dq_results", "details_json")):
            removed[table] = _delete_mentions(con, table, col, user_id, lists["request_id"])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return removed


def _delete_mentions(con, table: str, col: str, user_id: str, request_ids: list[str]) -> int:
    # Logged copies of records (quarantined lines, sample bad rows) carry the ids as JSON text.
    mention = f'"user_id"\\s*:\\s*"{re.escape(user_id)}"'
    request_of = f'regexp_extract({col}::varchar, \'"request_id"\\s*:\\s*"([^"]+)"\', 1)'
    where = f"regexp_matches({col}::varchar, ?) or list_contains(?, {request_of})"
    return _delete(con, f"delete from {table} where {where}", [mention, request_ids])


def _delete(con, sql: str, params: list) -> int:
    return len(con.execute(sql + " returning 1", params).fetchall())


def _erase_landing_client(
    landing: str, user_id: str, ids: dict[str, set[str]], store
) -> dict[str, int]:
    """Drop the user's client lines; their request and completion ids join `ids` on the way."""

    def belongs(line: str) -> bool:
        if user_id not in line:  # cheap test first: most lines are someone else's
            return False
        try:
            return json.loads(line).get("user_id") == user_id
        except (json.JSONDecodeError, AttributeError):
            return bool(re.search(f'"user_id"\\s*:\\s*"{re.escape(user_id)}"', line))

    def drop(line: str) -> bool:
        if not belongs(line):
            return False
        for col in _LINK_COLUMNS:
            m = re.search(f'"{col}"\\s*:\\s*"([^"]+)"', line)
            if m:
                ids[col].add(m.group(1))
        return True

    return _rewrite_objects(landing, "client", drop, store)


def _erase_landing_server(landing: str, request_ids: set[str], store) -> dict[str, int]:
    def drop(line: str) -> bool:
        m = _REQUEST_ID.search(line)
        return bool(m and m.group(1) in request_ids)

    return _rewrite_objects(landing, "server", drop, store) if request_ids else {}


def _rewrite_objects(root: str, prefix: str, drop, store=None) -> dict[str, int]:
    """Rewrite each landing object without the lines `drop` selects; returns lines removed per object."""
    removed: dict[str, int] = {}
    for obj in storage.list_objects(root, prefix, store):
        data = storage.read_bytes(root, obj.key, store)
        zipped = obj.key.endswith(".gz")
        lines = (
            (gzip.decompress(data) if zipped else data)
            .decode("utf-8", errors="replace")
            .splitlines(True)
        )
        kept = [ln for ln in lines if not drop(ln)]
        if len(kept) != len(lines):
            body = "".join(kept).encode("utf-8")
            body = gzip.compress(body, mtime=0) if zipped else body
            storage.write_bytes(root, obj.key, body, store)
            removed[f"landing:{obj.key}"] = len(lines) - len(kept)
    return removed


def _erase_truth(truth_dir: Path, user_id: str) -> dict[str, int]:
    removed: dict[str, int] = {}
    if not truth_dir.is_dir():
        return removed
    root = str(truth_dir)
    removed.update(
        {
            k.replace("landing:", "truth:"): v
            for k, v in _rewrite_objects(root, "", lambda ln: _truth_user(ln) == user_id).items()
        }
    )
    return removed


def _truth_user(line: str) -> str | None:
    try:
        return json.loads(line).get("user_id")
    except (json.JSONDecodeError, AttributeError):
        return None


def _republish(con, settings: Settings) -> int:
    published = Path(settings.storage.published_path)
    if not published.exists():
        return 0
    publish_snapshot(con, published)
    return 1


def _audit(con, report: ErasureReport, user_id: str, requested_by: str) -> None:
    digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()
    rows = [
        (report.erasure_id, digest, requested_by, place, n)
        for place, n in sorted(report.removed.items())
    ]
    con.executemany(
        "insert into ops.erasure_audit (erasure_id, user_id_hash, requested_by, place, rows_removed) "
        "values (?, ?, ?, ?, ?)",
        rows,
    )
