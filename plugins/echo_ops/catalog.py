"""What the tables mean, in one place an analyst can read from DuckDB itself.

Column meanings are written once: as the trailing `-- comment` of a column in the DDL
(include/sql/ddl/*.sql), or, for tables built from a select (marts, views), in the
`columns:` map of the model's YAML note beside its SQL. Table meanings come from each
note's `description` (or `grain`). `apply_comments` turns both into COMMENT ON
statements, so `duckdb_columns()` and any BI tool show them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import duckdb

from echo_ops.config import SQL_DIR

_TABLE = re.compile(r"create table if not exists (\w+\.\w+) \(", re.IGNORECASE)
_COLUMN = re.compile(r"^\s+(\w+)\s+[^-]*?--\s*(.+?)\s*$")


@lru_cache(maxsize=1)
def table_notes(sql_dir: Path = SQL_DIR) -> dict[str, dict]:
    """Every model's YAML note by table name (`model:`), with its path."""
    import yaml

    notes = {}
    for path in sorted(sql_dir.rglob("*.yml")):
        note = yaml.safe_load(path.read_text()) or {}
        if "model" in note:
            notes[note["model"]] = {**note, "path": path}
    return notes


@lru_cache(maxsize=1)
def column_comments(sql_dir: Path = SQL_DIR) -> dict[tuple[str, str], str]:
    """(table, column) -> meaning, from DDL trailing comments and the notes' `columns:`."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted((sql_dir / "ddl").glob("*.sql")):
        table = None
        for line in path.read_text().splitlines():
            if m := _TABLE.search(line):
                table = m.group(1)
            elif line.startswith(")"):
                table = None
            elif table and (m := _COLUMN.match(line)):
                found[(table, m.group(1))] = m.group(2)
    for table, note in table_notes(sql_dir).items():
        for column, meaning in (note.get("columns") or {}).items():
            found[(table, column)] = " ".join(str(meaning).split())
    return found


def apply_comments(con: duckdb.DuckDBPyConnection, database: str | None = None) -> int:
    """COMMENT ON every documented table and column that exists in `database` (default:
    the current one); returns how many comments were set. Safe to repeat."""
    (db,) = con.execute("select coalesce(?, current_database())", [database]).fetchone()
    existing = {
        (f"{s}.{t}", c)
        for s, t, c in con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = ?",
            [db],
        ).fetchall()
    }
    tables = {t for t, _ in existing}
    n = 0
    for (table, column), meaning in column_comments().items():
        if (table, column) in existing:
            con.execute(f"comment on column {db}.{table}.{column} is {_quote(meaning)}")
            n += 1
    for table, note in table_notes().items():
        about = note.get("description") or note.get("grain")
        if table in tables and about:
            kind = _relation_kind(con, db, table)
            con.execute(f"comment on {kind} {db}.{table} is {_quote(' '.join(about.split()))}")
            n += 1
    return n


def _relation_kind(con, db: str, table: str) -> str:
    schema, name = table.split(".")
    (views,) = con.execute(
        "select count(*) from duckdb_views() where database_name = ? and schema_name = ? "
        "and view_name = ?",
        [db, schema, name],
    ).fetchone()
    return "view" if views else "table"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
