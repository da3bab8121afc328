"""The DuckDB warehouse: connections, running SQL files, partition writes, publishing.

The pipeline owns one DuckDB file and is its only writer (an Airflow pool serialises
writers). Analysts read a copy that `publish_snapshot` swaps in atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from echo_ops.catalog import apply_comments
from echo_ops.config import SQL_DIR, Settings
from echo_ops.logs import stage_run

LAYERS = ("raw", "staging", "training", "registry", "marts", "ops")
# What analysts get (the published copy): the marts and the model registry. Never the
# raw or staging text, training data, quarantined lines or the consent list: marts hold
# counts and ids, no code text, so nothing in the copy needs redacting.
PUBLISHED_SCHEMAS = ("marts", "registry")


def sql_path(name: str, sql_dir: Path = SQL_DIR) -> Path:
    """Find `include/sql/**/<name>.sql`; `name` may include its layer folder."""
    root = sql_dir
    direct = root / f"{name}.sql"
    if direct.is_file():
        return direct
    matches = sorted(root.rglob(f"{Path(name).name}.sql"))
    if len(matches) != 1:
        found = ", ".join(str(m) for m in matches) or "none"
        raise FileNotFoundError(
            f"expected one SQL file named {name}.sql under {root}; found {found}"
        )
    return matches[0]


def quote_literal(value: str) -> str:
    """`value` as a SQL string literal, for the few places DuckDB takes no parameter
    (COPY ... TO): a data root may hold an apostrophe."""
    return "'" + str(value).replace("'", "''") + "'"


def read_sql(name: str, sql_dir: Path = SQL_DIR) -> str:
    return sql_path(name, sql_dir).read_text()


def run_sql_file(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> None:
    """Run every statement of a SQL file; `$name` placeholders bind from `params`."""
    for statement in _statements(read_sql(name)):
        used = {k: v for k, v in (params or {}).items() if f"${k}" in statement}
        con.execute(statement, used or None)


def _statements(sql: str) -> Iterator[str]:
    # Our SQL files hold no semicolons inside strings, so a plain split is safe.
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    for part in "\n".join(lines).split(";"):
        if part.strip():
            yield part.strip()


def connect(
    where: Settings | Path | str, read_only: bool = False, lock_wait_s: float | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (`where`: the settings, or a file path), creating the file, its
    layers and ops tables on first write. A file another process holds is waited for up to
    `lock_wait_s` (default: `storage.lock_wait_s` with settings, else 0), then WarehouseLocked."""
    is_settings = isinstance(where, Settings)
    path = Path(where.storage.warehouse_path if is_settings else where)
    if lock_wait_s is None:
        lock_wait_s = where.storage.lock_wait_s if is_settings else 0.0
    if read_only:
        if not path.is_file():
            raise WarehouseMissing(
                f"no warehouse at {path}: nothing to read yet (run `echo-ops init` or the "
                "echo_daily DAG first, or check ECHO_DATA_ROOT)"
            )
        return _open(path, read_only=True, wait_s=lock_wait_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only=False, wait_s=lock_wait_s)
    run_sql_file(con, "ddl/schemas")
    run_sql_file(con, "ddl/ops")
    return con


def is_read_only(con: duckdb.DuckDBPyConnection) -> bool:
    (mode,) = con.execute("select current_setting('access_mode')").fetchone()
    return mode == "read_only"


class WarehouseMissing(FileNotFoundError):
    """A read was asked of a warehouse file that does not exist."""


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse file (a transient state: retry)."""


def _open(path: Path, read_only: bool, wait_s: float = 0.0) -> duckdb.DuckDBPyConnection:
    # DuckDB takes an OS file lock: one read-write process, or any number of read-only
    # ones, never both. Readers outside the writers' pool (fine_tune, evaluate_candidate)
    # hold it for seconds, so a short wait absorbs them instead of failing a writer.
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() < deadline:
                time.sleep(min(0.5, max(deadline - time.monotonic(), 0.01)))
                continue
            holder = re.search(r"held in (.*?)(?:\.\s|$)", str(exc))
            raise WarehouseLocked(
                f"the warehouse {path} is in use by another process"
                f"{f' ({holder.group(1)})' if holder else ''}, still after {wait_s:g} s. Writers "
                "take turns through the echo_duckdb pool (one slot): wait for the running task "
                "to finish, then retry (an Airflow task retries by itself). Analysts read the "
                "published copy (storage.published_path), never this file; read-only CLI verbs "
                "wait for writers too."
            ) from None


@contextmanager
def open_warehouse(
    where: Settings | Path | str, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(where, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def ensure_pipeline_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The raw, extract and staging tables and views the daily stages write and read."""
    run_sql_file(con, "ddl/raw")
    _payload_as_text(con)
    run_sql_file(con, "ddl/extract")
    run_sql_file(con, "staging/stg_telemetry__editor_events")
    run_sql_file(con, "staging/stg_model_server__completions")
    run_sql_file(con, "ddl/imports")  # Continue / Tabby imports (echo_ops.adapters)


def _payload_as_text(con: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made when `payload` was a JSON column: make it VARCHAR, once (the ALTER
    rewrites the column, so it runs only where the type is still JSON)."""
    for (table,) in con.execute(
        "select table_name from information_schema.columns where table_schema = 'raw' "
        "and column_name = 'payload' and data_type <> 'VARCHAR'"
    ).fetchall():
        con.execute(f"alter table raw.{table} alter payload type varchar")


def limit_memory(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Bound DuckDB's memory so a bigger day spills to disk instead of growing the process."""
    spill = Path(settings.data_root) / "tmp" / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute("set memory_limit = ?", [settings.extract.duckdb_memory_limit])
    (current,) = con.execute("select current_setting('temp_directory')").fetchone()
    if current != str(spill):
        try:
            con.execute("set temp_directory = ?", [str(spill)])
        except duckdb.NotImplementedException:
            pass  # this connection has spilled already: it keeps the directory it used


def insert_rows(con, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Insert many rows in one statement (DuckDB's executemany runs one statement per row)."""
    if not rows:
        return
    params = {f"c{i}": [row[i] for row in rows] for i in range(len(columns))}
    unnests = ", ".join(f"unnest($c{i})" for i in range(len(columns)))
    con.execute(f"insert into {table} ({', '.join(columns)}) select {unnests}", params)


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    ds: date,
    params: dict | None = None,
) -> int:
    """Replace one day of `table` with `select_sql`'s rows, in one transaction.

    Re-running a day, or backfilling in any order, leaves the same rows as one run.
    `table` must exist and have a `ds` column; returns the rows written.
    """
    params = {"ds": ds, **(params or {})}
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table} where ds = $ds", {"ds": ds})
        used = {k: v for k, v in params.items() if f"${k}" in select_sql}
        con.execute(f"insert into {table} {select_sql}", used or None)
        (rows,) = con.execute(f"select count(*) from {table} where ds = $ds", {"ds": ds}).fetchone()
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return int(rows)


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    (n,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return n > 0


def log_run(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    ds: date | None,
    started_at: datetime,
    status: str,
    counts: dict[str, Any],
    error: str | None = None,
    run_id: str | None = None,
) -> str:
    """Append one row to ops.run_log; returns its run id."""
    run_id = run_id or uuid.uuid4().hex[:12]
    con.execute(
        "insert into ops.run_log values (?, ?, ?, ?, current_timestamp, ?, ?, ?)",
        [run_id, ds, stage, started_at, status, json.dumps(counts, default=str), error],
    )
    return run_id


def publish_snapshot(
    con: duckdb.DuckDBPyConnection,
    published_path: Path | str,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
) -> dict[str, int]:
    """Copy the analyst-facing layers (`schemas`) to a new file, then swap it in with
    os.replace; beside it, one Parquet file per table under `parquet/` for tools that
    prefer files (a new directory each publish, swapped in by renaming a symlink).

    Readers holding the old file keep their view; nobody ever sees a half-written copy.
    Returns the row count of each published table.
    """
    with stage_run("publish", target=published_path) as counts:
        published = _copy_to_snapshot(con, Path(published_path), schemas)
        counts.update(tables=len(published), rows_out=sum(published.values()))
        counts["parquet_dir"] = str(_export_parquet(Path(published_path)))
    return published


def parquet_dir(published_path: Path | str) -> Path:
    """Where the published tables are as Parquet: `<dir of the copy>/parquet/<table>.parquet`."""
    return Path(published_path).parent / "parquet"


def _export_parquet(target: Path) -> Path:
    """Every table of the published copy as Parquet in a fresh directory, then the `parquet`
    symlink swapped to it (atomic) and older directories removed (a forget's re-publish
    must not leave the user's rows in an old export)."""
    link = parquet_dir(target)
    fresh = link.with_name(f"parquet-{uuid.uuid4().hex[:8]}.tmp")
    fresh.mkdir(parents=True)
    con = duckdb.connect(str(target), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, name in tables:
            out = fresh / f"{schema}.{name}.parquet"
            con.execute(f'copy "{schema}"."{name}" to {quote_literal(str(out))} (format parquet)')
    finally:
        con.close()
    final = fresh.with_name(fresh.name.removesuffix(".tmp"))
    fresh.rename(final)
    tmp_link = link.with_name(f".parquet-{uuid.uuid4().hex[:8]}.link")
    tmp_link.symlink_to(final.name)
    os.replace(tmp_link, link)
    for old in link.parent.glob("parquet-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return link


def remove_stale_publish_temps(target: Path) -> int:
    """Delete copies a killed publish left beside `target` (they hold analyst data, and
    nothing else would ever remove them); returns how many files went. Publishes are
    serialised by the writer pool, so no other publish is writing one now."""
    if not target.parent.is_dir():
        return 0
    stale = [
        p
        for pattern in (f".{target.name}.*.tmp", f".{target.name}.*.tmp.wal", ".parquet-*.link")
        for p in target.parent.glob(pattern)
    ]
    for path in stale:
        path.unlink(missing_ok=True)
    half_exports = list(target.parent.glob("parquet-*.tmp"))  # a killed Parquet export
    for path in half_exports:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale) + len(half_exports)


def rewrite_file(path: Path) -> tuple[int, int]:
    """Copy the warehouse at `path` into a fresh file and swap it in; (bytes before, after).

    DuckDB reuses freed blocks but never clears them, so deleted rows stay readable in
    the file until it is rewritten: erasure needs this. Takes the writer's lock (fails
    fast if someone holds the file) for the whole copy.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.rewrite")
    before = path.stat().st_size
    con = duckdb.connect(str(path))
    try:
        con.execute("force checkpoint")
        (src,) = con.execute("select current_database()").fetchone()
        con.execute("attach ? as fresh", [str(tmp)])
        try:
            con.execute(f'copy from database "{src}" to fresh')
        finally:
            con.execute("detach fresh")
        os.replace(tmp, path)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    return before, path.stat().st_size


def _copy_to_snapshot(con, target: Path, schemas: tuple[str, ...]) -> dict[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_publish_temps(target)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    (src_db,) = con.execute("select current_database()").fetchone()
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = ? and table_type = 'BASE TABLE' order by 1, 2",
        [src_db],
    ).fetchall()
    published: dict[str, int] = {}
    con.execute("attach ? as snapshot", [str(tmp)])
    try:
        for schema in schemas:
            con.execute(f"create schema if not exists snapshot.{schema}")
        for schema, name in tables:
            if schema not in schemas:
                continue
            con.execute(
                f"create table snapshot.{schema}.{name} as select * from {src_db}.{schema}.{name}"
            )
            (n,) = con.execute(f"select count(*) from snapshot.{schema}.{name}").fetchone()
            published[f"{schema}.{name}"] = int(n)
        apply_comments(con, "snapshot")  # a table copy does not carry its column comments
    finally:
        con.execute("detach snapshot")
    os.replace(tmp, target)
    tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return published
