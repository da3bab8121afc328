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
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from echo_ops import storage
from echo_ops.config import Settings
from echo_ops.contract.jsonl import gunzip, string_fields
from echo_ops.logs import stage_run
from echo_ops.warehouse import (
    open_warehouse,
    publish_snapshot,
    remove_stale_publish_temps,
    rewrite_file,
)


@dataclass
class ErasureReport:
    erasure_id: str
    removed: dict[str, int] = field(default_factory=dict)  # place -> rows/lines removed
    file_bytes: tuple[int, int] | None = None  # warehouse file size before, after its rewrite

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def by_layer(self) -> dict[str, int]:
        """Removed per layer: raw, staging, ..., ops, landing, truth, published, ..."""
        layers: dict[str, int] = {}
        for place, n in self.removed.items():
            layer = place.split(":", 1)[0] if ":" in place else place.split(".", 1)[0]
            layer = layer.split("_", 1)[0] if layer.startswith("published") else layer
            layers[layer] = layers.get(layer, 0) + n
        return dict(sorted(layers.items()))


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

    Writes ops.consent (opted out) and one ops.erasure_audit row per place. Touches only
    rows and lines that name the user (or their request and completion ids); safe to
    re-run: a second run finds nothing left and records zeros. The freed blocks of the
    warehouse file still hold the erased bytes until the file is rewritten: `forget`
    (what the CLI runs) does that after this returns.
    """
    if not user_id or not user_id.strip():
        raise ValueError("forget needs a non-empty user id")
    landing = settings.storage.landing_uri
    report = ErasureReport(uuid.uuid4().hex[:12])
    with stage_run("forget", erasure_id=report.erasure_id) as counts:
        set_consent(con, user_id, True)
        ids = _warehouse_ids(con, user_id)
        # Landing first: its lines add ids (server requests never shown, lines ingest refused).
        landing_removed = _erase_landing(landing, user_id, ids, settings.storage)
        report.removed.update(_erase_warehouse(con, user_id, ids))
        report.removed.update(landing_removed)
        report.removed.update(_erase_truth(Path(settings.storage.truth_dir), user_id))
        con.execute("force checkpoint")  # deleted rows must not linger in the WAL
        report.removed["published_temp_files"] = remove_stale_publish_temps(
            Path(settings.storage.published_path)
        )
        report.removed["published_copy"] = _republish(con, settings)
        _audit(con, report, user_id, requested_by)
        counts.update(places=len(report.removed), removed=report.total)
    return report


def forget(user_id: str, requested_by: str, settings: Settings) -> ErasureReport:
    """`forget_user` on the warehouse, then the file rewritten so its free blocks hold no
    erased bytes (DuckDB reuses freed blocks but never clears them). Needs the writer's
    lock, like any write: run it in the echo_duckdb pool's slot or with the DAGs paused."""
    path = Path(settings.storage.warehouse_path)
    with open_warehouse(path) as con:
        report = forget_user(con, user_id, settings, requested_by)
    report.file_bytes = rewrite_file(path)
    return report


# Rows of tables without a user_id (bookkeeping, old server logs) are the user's through these.
_LINK_COLUMNS = ("request_id", "completion_id")


def _warehouse_ids(con, user_id: str) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {col: set() for col in _LINK_COLUMNS}
    for col in _LINK_COLUMNS:
        for table in _tables_with(con, "user_id") & _tables_with(con, col):
            q = f"select distinct {col} from {table} where user_id = ? and {col} is not null"
            ids[col] |= {str(r) for (r,) in con.execute(q, [user_id]).fetchall()}
        ids[col].discard("")  # an empty id names nobody: it must never match other rows
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
    con.execute("begin transaction")
    try:
        for table in sorted(by_user):
            removed[table] = _delete(con, f"delete from {table} where user_id = ?", [user_id])
        for col in _LINK_COLUMNS:
            if not ids[col]:
                continue  # nothing to match: no statement, so no row can match by accident
            for table in sorted(_tables_with(con, col)):
                sql = f"delete from {table} where list_contains(?, {col}::varchar)"
                removed[table] = removed.get(table, 0) + _delete(con, sql, [sorted(ids[col])])
        for table, col in (("ops.quarantine", "raw_text"), ("ops.dq_results", "details_json")):
            removed[table] = removed.get(table, 0) + _delete_mentions(con, table, col, user_id, ids)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return removed


def _delete_mentions(con, table: str, col: str, user_id: str, ids: dict[str, set[str]]) -> int:
    """Logged copies of records (quarantined lines, sample bad rows) name the user as JSON
    text, maybe escaped or cut off: each is read as forget reads a landing line."""
    rows = con.execute(f"select rowid, {col}::varchar from {table} where {col} is not null")
    doomed = [rowid for rowid, text in rows.fetchall() if _names_user(text, user_id, ids)]
    if not doomed:
        return 0
    return _delete(con, f"delete from {table} where list_contains(?, rowid)", [doomed])


def _delete(con, sql: str, params: list) -> int:
    return len(con.execute(sql + " returning 1", params).fetchall())


_ID_KEYS = ("user_id", *_LINK_COLUMNS)


def _names_user(text: str, user_id: str, ids: dict[str, set[str]]) -> bool:
    # Cheap test first: most text is someone else's. An escape can spell the id otherwise.
    if (
        user_id not in text
        and "\\u" not in text
        and not any(f'"{c}"' in text for c in _LINK_COLUMNS)
    ):
        return False
    fields = string_fields(text, _ID_KEYS)
    return user_id in fields["user_id"] or any(fields[c] & ids[c] for c in _LINK_COLUMNS)


def _erase_landing(landing: str, user_id: str, ids: dict[str, set[str]], store) -> dict[str, int]:
    """Drop the user's lines from both streams. A line is the user's when it names them,
    or one of their request or completion ids; ids of the lines dropped join `ids` on
    the way (client lines first: server lines are the user's through those)."""

    def drop(line: str) -> bool:
        if user_id not in line and "\\u" not in line and '"request_id"' not in line:
            return False
        fields = string_fields(line, _ID_KEYS)
        if user_id not in fields["user_id"] and not any(fields[c] & ids[c] for c in _LINK_COLUMNS):
            return False
        for col in _LINK_COLUMNS:
            ids[col] |= fields[col] - {""}
        return True

    removed = _rewrite_objects(landing, "client", drop, store)
    removed.update(_rewrite_objects(landing, "server", drop, store))
    return removed


def _rewrite_objects(root: str, prefix: str, drop, store=None) -> dict[str, int]:
    """Rewrite each object without the lines `drop` selects; returns lines removed per
    object. Lines split as ingest splits them (contract.jsonl); kept lines keep their bytes.
    An object that cannot be read whole is reported (`unreadable:`), never guessed at."""
    removed: dict[str, int] = {}
    for obj in storage.list_objects(root, prefix, store):
        if obj.is_link or obj.key.rsplit("/", 1)[-1].startswith("."):
            continue  # ingest refuses links; dot files are unfinished writes of storage
        data = storage.read_bytes(root, obj.key, store)
        zipped = obj.key.endswith(".gz")
        body, problem = gunzip(data) if zipped else (data, None)
        if problem:
            removed[f"unreadable:{obj.key}"] = 1
            continue
        pieces = body.split(b"\n")  # split_lines' rule, with each line's own ending kept
        kept = [
            p
            for i, p in enumerate(pieces)
            if (i == len(pieces) - 1 and p == b"")
            or not drop(p.removesuffix(b"\r").decode("utf-8", errors="replace"))
        ]
        if len(kept) != len(pieces):
            out = b"\n".join(kept)
            storage.write_bytes(
                root, obj.key, gzip.compress(out, mtime=0) if zipped else out, store
            )
            removed[f"landing:{obj.key}"] = len(pieces) - len(kept)
    return removed


def _erase_truth(truth_dir: Path, user_id: str) -> dict[str, int]:
    if not truth_dir.is_dir():
        return {}
    removed = _rewrite_objects(
        str(truth_dir), "", lambda ln: user_id in string_fields(ln, ("user_id",))["user_id"]
    )
    return {k.replace("landing:", "truth:"): v for k, v in removed.items()}


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
