"""The model registry: `registry.models` (lineage, status, metrics) plus an artifact store
(a local dir or s3://, through `echo_ops.storage`) holding each model's HF directory.

Invariant: once any model is registered there is exactly one champion, and switching it
happens in one DuckDB transaction (the old champion is archived in the same commit).
After that commit the artifact store's `_champion.json` names the new champion: the
completion server (`echo_ops.serve`) polls that object, never the warehouse, whose single
writer it must not block.
"""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from echo_ops import storage
from echo_ops.config import Settings, StorageSettings
from echo_ops.warehouse import is_read_only, run_sql_file, table_exists

log = logging.getLogger(__name__)

STATUSES = ("candidate", "champion", "rejected", "archived")
CHAMPION_POINTER = "_champion.json"  # in the artifact store, beside the model directories


class RegistryError(RuntimeError):
    """The registry would break an invariant (no champion, unknown model, bad status)."""


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    status: str
    parent_id: str | None
    artifact_uri: str
    data_window: dict[str, Any]
    metrics: dict[str, Any]
    config: dict[str, Any]
    created_at: datetime
    decided_reason: str | None
    kind: str | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


_COLUMNS = (
    "model_id, status, parent_id, artifact_uri, data_window, metrics_json, config_json, "
    "created_at, decided_reason, kind"
)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the registry tables where missing; on a read-only connection, only say
    whether they exist (readers never write, and must not need to)."""
    if is_read_only(con):
        return table_exists(con, "registry.models")
    run_sql_file(con, "ddl/registry")
    return True


def new_model_id(kind: str) -> str:
    return f"{kind}-{datetime.utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def register_model(
    con: duckdb.DuckDBPyConnection,
    local_dir: Path,
    *,
    kind: str,
    model_id: str | None = None,
    parent_id: str | None = None,
    data_window: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    settings: Settings,
) -> str:
    """Copy a HF model directory into the artifact store and add it as a candidate.

    Writes registry.models (one row) and `<artifacts_uri>/<model_id>/`; re-running with
    the same `model_id` replaces both.
    """
    ensure_tables(con)
    model_id = model_id or new_model_id(kind)
    artifact_uri = upload_model(local_dir, model_id, settings)
    insert_model(con, model_id=model_id, kind=kind, artifact_uri=artifact_uri,
                 parent_id=parent_id, data_window=data_window, metrics=metrics, config=config)  # fmt: skip
    return model_id


def upload_model(local_dir: Path, model_id: str, settings: Settings) -> str:
    """Copy a HF model directory to `<artifacts_uri>/<model_id>/` (files only, no table);
    returns its artifact URI. Replaces what an earlier upload of that id left."""
    local_dir = Path(local_dir)
    if not (local_dir / "config.json").is_file():
        raise RegistryError(f"{local_dir} is not a Hugging Face model directory (no config.json)")
    root, store = settings.storage.artifacts_uri, settings.storage
    storage.delete_prefix(root, model_id, store)
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        storage.write_bytes(
            root, f"{model_id}/{path.relative_to(local_dir).as_posix()}", path.read_bytes(), store
        )
    return storage.join(root, model_id)


def insert_model(
    con: duckdb.DuckDBPyConnection,
    *,
    model_id: str,
    kind: str,
    artifact_uri: str,
    parent_id: str | None = None,
    data_window: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> str:
    """Add (or replace) one registry.models row, status candidate, for uploaded artifacts."""
    ensure_tables(con)
    con.execute("delete from registry.models where model_id = ?", [model_id])
    con.execute(
        "insert into registry.models (model_id, status, parent_id, artifact_uri, data_window, "
        "metrics_json, config_json, kind) values (?, 'candidate', ?, ?, ?, ?, ?, ?)",
        [model_id, parent_id, artifact_uri, json.dumps(data_window or {}, default=str),
         json.dumps(metrics or {}, default=str), json.dumps(config or {}, default=str), kind],
    )  # fmt: skip
    return model_id


def get_model(con: duckdb.DuckDBPyConnection, model_id: str) -> ModelRecord:
    exists = ensure_tables(con)
    row = (
        exists
        and con.execute(
            f"select {_COLUMNS} from registry.models where model_id = ?", [model_id]
        ).fetchone()
    )
    if not row:
        raise RegistryError(f"no model {model_id!r} in registry.models")
    return _record(row)


def list_models(con: duckdb.DuckDBPyConnection) -> list[ModelRecord]:
    if not ensure_tables(con):
        return []
    rows = con.execute(
        f"select {_COLUMNS} from registry.models order by created_at, model_id"
    ).fetchall()
    return [_record(r) for r in rows]


def champion(con: duckdb.DuckDBPyConnection) -> ModelRecord | None:
    if not ensure_tables(con):
        return None
    rows = con.execute(
        f"select {_COLUMNS} from registry.models where status = 'champion'"
    ).fetchall()
    if len(rows) > 1:
        raise RegistryError(f"registry broken: {len(rows)} champions")
    return _record(rows[0]) if rows else None


@contextmanager
def _switching_champion(con: duckdb.DuckDBPyConnection, settings: Settings | None):
    """One transaction that must leave exactly one champion; the champion pointer in the
    artifact store follows only once it has committed."""
    con.execute("begin transaction")
    try:
        yield
        _check_one_champion(con)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    write_champion_pointer(con, settings)


def set_champion(
    con: duckdb.DuckDBPyConnection, model_id: str, reason: str, settings: Settings | None = None
) -> str | None:
    """Make `model_id` the champion and archive the old one, atomically; returns the old id.
    Then points the artifact store's champion pointer at it."""
    get_model(con, model_id)
    with _switching_champion(con, settings):
        old = con.execute(
            "select model_id from registry.models where status = 'champion'"
        ).fetchall()
        con.execute(
            "update registry.models set status = 'archived', decided_at = current_timestamp, "
            "decided_reason = ? where status = 'champion' and model_id <> ?",
            [f"replaced by {model_id}", model_id],
        )
        replaced = next((r[0] for r in old if r[0] != model_id), None)
        con.execute(
            "update registry.models set status = 'champion', decided_at = current_timestamp, "
            "promoted_at = current_timestamp, decided_reason = ?, "
            "previous_champion_id = coalesce(?, previous_champion_id) where model_id = ?",
            [reason, replaced, model_id],
        )
    return replaced


def set_status(con: duckdb.DuckDBPyConnection, model_id: str, status: str, reason: str) -> None:
    """Mark a non-champion model rejected/archived/candidate (a champion leaves only by rollback
    or by being replaced)."""
    if status not in STATUSES or status == "champion":
        raise RegistryError(f"use set_champion to crown a model; bad status {status!r}")
    if get_model(con, model_id).status == "champion":
        raise RegistryError(f"{model_id} is the champion: promote another model or roll back first")
    con.execute(
        "update registry.models set status = ?, decided_reason = ?, decided_at = current_timestamp "
        "where model_id = ?",
        [status, reason, model_id],
    )


def update_metrics(con: duckdb.DuckDBPyConnection, model_id: str, metrics: dict[str, Any]) -> None:
    merged = {**get_model(con, model_id).metrics, **metrics}
    con.execute(
        "update registry.models set metrics_json = ? where model_id = ?",
        [json.dumps(merged, default=str), model_id],
    )


def rollback(
    con: duckdb.DuckDBPyConnection,
    reason: str = "manual rollback",
    settings: Settings | None = None,
) -> tuple[str, str]:
    """Reject the current champion and restore the exact champion it replaced (recorded at
    promotion; for rows from before that record, the latest promoted archived model), in
    one transaction, then move the champion pointer (with `settings`). Returns
    (rejected_id, restored_id)."""
    current = champion(con)
    if current is None:
        raise RegistryError("no champion to roll back")
    (previous,) = con.execute(
        "select previous_champion_id from registry.models where model_id = ?", [current.model_id]
    ).fetchone()
    row = (
        (previous,)
        if previous
        else con.execute(
            "select model_id from registry.models where status = 'archived' "
            "and promoted_at is not null order by promoted_at desc, model_id desc limit 1"
        ).fetchone()
    )
    if row is None:
        raise RegistryError(f"{current.model_id} has no earlier champion to roll back to")
    with _switching_champion(con, settings):
        con.execute(
            "update registry.models set status = 'rejected', decided_reason = ?, "
            "decided_at = current_timestamp where model_id = ?",
            [f"rolled back: {reason}", current.model_id],
        )
        con.execute(
            "update registry.models set status = 'champion', decided_reason = ?, "
            "decided_at = current_timestamp where model_id = ?",
            [f"restored by rollback of {current.model_id}", row[0]],
        )
    return current.model_id, row[0]


def fetch_model_dir(record: ModelRecord, settings: Settings) -> Path:
    """A local HF directory for the model: the artifact dir itself, or an S3 download
    cached under `data_root/model_cache`."""
    return artifact_dir(record.model_id, record.artifact_uri, settings)


def artifact_dir(model_id: str, artifact_uri: str, settings: Settings) -> Path:
    """A local HF directory for the artifacts at `artifact_uri` (downloaded once from S3
    into `data_root/model_cache`)."""
    if not storage.is_s3(artifact_uri):
        return Path(artifact_uri)
    cache_dir = Path(settings.data_root) / "model_cache" / model_id
    if (cache_dir / "config.json").is_file():
        return cache_dir
    root, _, model_id = artifact_uri.rpartition("/")
    for obj in storage.list_objects(root, model_id, settings.storage):
        target = cache_dir / obj.key[len(model_id) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(storage.read_bytes(root, obj.key, settings.storage))
    return cache_dir


def calibrated_gate_of(record: ModelRecord) -> float | None:
    """The show gate promotion calibrated for this model (train.calibrate_gate), or None."""
    gate = (record.metrics.get("serving") or {}).get("show_min_prob")
    return None if gate is None else float(gate)


def write_champion_pointer(
    con: duckdb.DuckDBPyConnection, settings: Settings | None = None
) -> dict[str, Any] | None:
    """Write `_champion.json` (model id, artifact URI) for the committed champion; returns it.
    It goes to `settings.storage.artifacts_uri`, or without settings beside the champion's
    own artifacts (local stores only: S3 needs the settings). Written after the commit: a
    crash in between leaves the pointer on the old champion until the next switch or
    `echo-ops serve` start (docs/serving.md)."""
    record = champion(con)
    if record is None:
        return None
    pointer = {"model_id": record.model_id, "artifact_uri": record.artifact_uri,
               "show_min_prob": calibrated_gate_of(record), "switched_at": datetime.utcnow().isoformat() + "Z"}  # fmt: skip
    root = settings.storage.artifacts_uri if settings else record.artifact_uri.rpartition("/")[0]
    if settings is None and storage.is_s3(root):
        log.error("champion pointer not written for %s: an s3:// registry needs the settings; "
                  "`echo-ops serve` keeps serving the previous champion", record.model_id)  # fmt: skip
        return None
    data = json.dumps(pointer, sort_keys=True).encode()
    storage.write_bytes(root, CHAMPION_POINTER, data, settings.storage if settings else None)
    return pointer


def read_champion_pointer(settings: Settings) -> dict[str, Any] | None:
    """The champion pointer, or None when no champion switch has written one yet."""
    return _read_json(settings.storage.artifacts_uri, CHAMPION_POINTER, settings.storage)


def _read_json(root: str, key: str, store: StorageSettings | None) -> Any:
    try:
        return json.loads(storage.read_bytes(root, key, store))
    except (FileNotFoundError, ValueError):
        return None
    except Exception as exc:  # botocore's NoSuchKey is not a FileNotFoundError
        if "NoSuchKey" in type(exc).__name__ or "NoSuchKey" in str(exc):
            return None
        raise


def write_artifact_json(
    record: ModelRecord, name: str, payload: dict[str, Any], store: StorageSettings | None = None
) -> str:
    """Save a JSON report next to a model's artifacts; returns its URI."""
    root, _, model_id = record.artifact_uri.rpartition("/")
    data = json.dumps(payload, indent=2, default=str, sort_keys=True).encode()
    storage.write_bytes(root, f"{model_id}/{name}", data, store)
    return storage.join(record.artifact_uri, name)


def read_artifact_json(artifact_uri: str, name: str, store: StorageSettings | None = None):
    """A JSON report saved next to a model's artifacts (write_artifact_json), or None."""
    root, _, model_id = artifact_uri.rpartition("/")
    return _read_json(root, f"{model_id}/{name}", store)


def _check_one_champion(con: duckdb.DuckDBPyConnection) -> None:
    (n,) = con.execute("select count(*) from registry.models where status = 'champion'").fetchone()
    if n != 1:
        raise RegistryError(f"champion switch would leave {n} champions; rolled back")


def _record(row) -> ModelRecord:
    loads = lambda v: json.loads(v) if isinstance(v, str) else (v or {})  # noqa: E731
    return ModelRecord(row[0], row[1], row[2], row[3], loads(row[4]), loads(row[5]), loads(row[6]),
                       row[7], row[8], row[9])  # fmt: skip


def latest_candidate(con: duckdb.DuckDBPyConnection) -> ModelRecord | None:
    """The newest model still waiting for a decision."""
    ensure_tables(con)
    row = con.execute(
        f"select {_COLUMNS} from registry.models where status = 'candidate' "
        "order by created_at desc, model_id desc limit 1"
    ).fetchone()
    return _record(row) if row else None
