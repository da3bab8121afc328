"""The test kit: warehouses built from include/sql (never a hand-copied schema), literal rows
in by column name, rows out as dicts, and the literal rows several test modules share.

`given` fills each NOT NULL column a row does not name with a placeholder of its type, so a
test states only the values it is about while the table keeps the pipeline's real schema
(a test that needs a null where the schema forbids one drops that constraint, in the open).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from echo_ops.config import TrainSettings, get_settings
from echo_ops.warehouse import ensure_pipeline_tables, run_sql_file

_DDL = ("ddl/schemas", "ddl/ops", "ddl/training", "ddl/marts", "ddl/registry")
_PLACEHOLDER = {
    "VARCHAR": "",
    "BIGINT": 0,
    "INTEGER": 0,
    "DOUBLE": 0.0,
    "BOOLEAN": False,
    "DATE": date(1970, 1, 1),
    "TIMESTAMP": datetime(1970, 1, 1),
    "JSON": "[]",
}


def create_tables(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Every layer's tables and the staging views, from include/sql/ddl (safe to repeat)."""
    for ddl in _DDL:
        run_sql_file(con, ddl)
    ensure_pipeline_tables(con)
    return con


def warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with every table."""
    return create_tables(duckdb.connect())


def given(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[dict[str, Any] | Sequence[Any]],
    columns: Sequence[str] | None = None,
) -> None:
    """Insert literal rows: dicts by column name, or tuples laid out as `columns`."""
    required = _required(con, table)
    for row in rows:
        named = dict(row) if isinstance(row, dict) else dict(zip(columns, row, strict=True))
        for column, type_ in required.items():
            if column not in named:
                named[column] = named.get("ds") if type_ == "DATE" else _PLACEHOLDER[type_]
        con.execute(
            f"insert into {table} ({', '.join(named)}) values ({', '.join('?' * len(named))})",
            list(named.values()),
        )


def rows(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _required(con, table: str) -> dict[str, str]:
    schema, name = table.split(".")
    return dict(
        con.execute(
            "select column_name, data_type from duckdb_columns() where schema_name = ? "
            "and table_name = ? and not is_nullable and database_name = current_database()",
            [schema, name],
        ).fetchall()
    )


# --- shared literal rows -------------------------------------------------------------

CLIENT_COLUMNS = ("ds", "event_id", "type", "ts", "user_id", "session_id", "doc_uri",
                  "doc_version", "completion_id", "request_id", "object_key", "line_no",
                  "payload")  # fmt: skip
REFINEMENT_COLUMNS = ("ds", "completion_id", "request_id", "user_id", "session_id", "doc_uri",
                      "language_id", "model_version", "shown_at", "prompt_prefix",
                      "prompt_suffix", "proposal_text", "accepted_text", "accept_kind",
                      "outcome", "final_text", "settled_reason", "trajectory_json",
                      "edit_distance", "kept_rate", "accepted_retained_chars")  # fmt: skip
EXAMPLE_COLUMNS = ("ds", "example_id", "source", "refinement_id", "user_id", "doc_uri", "prefix",
                   "suffix", "target", "weight", "split")  # fmt: skip
ALIGNED_COLUMNS = ("ds", "completion_id", "request_id", "shown_at", "user_id", "doc_uri",
                   "model_version", "has_server")  # fmt: skip


def client_rows(day: date, n: int, accepted_every: int = 2, prefix: str = "e") -> list[tuple]:
    """`n` events of `day` (CLIENT_COLUMNS): shown/decided pairs, 1/accepted_every accepted."""
    base = datetime.combine(day, datetime.min.time()) + timedelta(hours=9)
    out = []
    for i in range(n):
        decided = "completion.accepted" if (i // 2) % accepted_every == 0 else "completion.rejected"
        kind = "completion.shown" if i % 2 == 0 else decided
        out.append((day, f"{prefix}{day:%m%d}-{i}", kind, base + timedelta(seconds=i), f"u{i % 3}",
                    f"s{i % 3}", f"file:///repo/m{i % 4}.py", i, f"c{i // 2}", f"r{i // 2}", "k",
                    i + 1, "{}"))  # fmt: skip
    return out


def refinement_rows(day: date, n: int) -> list[tuple]:
    """`n` refinements of `day` (REFINEMENT_COLUMNS), the four main outcomes in turn."""
    base = datetime.combine(day, datetime.min.time()) + timedelta(hours=10)
    outcomes = ["accepted_kept", "accepted_refined", "rejected_empty", "rejected_written"]
    return [
        (
            day,
            f"c{i}",
            f"r{i}",
            f"u{i % 3}",
            "s1",
            f"file:///repo/m{i % 4}.py",
            "python",
            "m1",
            base + timedelta(minutes=i),
            "def f(",
            "):",
            f"x{i}",
            f"x{i}",
            "full",
            outcomes[i % 4],
            f"x{i} + 1",
            "quiet",
            "{}",
            i % 5,
            0.5,
            2,
        )  # fmt: skip
        for i in range(n)
    ]


def example_rows(day: date, n: int) -> list[tuple]:
    """`n` training examples of `day` (EXAMPLE_COLUMNS), one file each."""
    return [
        (
            day,
            f"ex{day:%d}-{i}",
            "refinement",
            f"c{i}",
            f"u{i % 3}",
            f"file:///repo/m{i}.py",
            f"def f{i}(a):\n    ",
            "\n",
            f"return a + {i}",
            1.0,
            "train",
        )  # fmt: skip
        for i in range(n)
    ]


def aligned_rows(day: date, n: int, without_server: int = 0) -> list[tuple]:
    """`n` aligned candidates of `day` (ALIGNED_COLUMNS); the first `without_server` lack
    their server line."""
    base = datetime.combine(day, datetime.min.time()) + timedelta(hours=8)
    return [
        (
            day,
            f"c{i}",
            f"r{i}",
            base + timedelta(minutes=i),
            f"u{i % 2}",
            "file:///a.py",
            None if i < without_server else "m1",
            i >= without_server,
        )  # fmt: skip
        for i in range(n)
    ]


# Refinements with code worth training on: (prompt prefix, suffix, final text, proposal).
CODE = [
    ("def area(r):\n    return ", "\n", "3.14159 * r ** 2", "3.14 * r * r"),
    ("import os\npath = ", "\nprint(path)\n", "os.path.join(base, name)", "os.path.join(base)"),
    ("for item in items:\n    ", "\n", "total += item.price", "total += item"),
    ("class Stack:\n    def push(self, x):\n        ", "\n", "self.items.append(x)",
     "self.items.append(x)"),
    ("with open(fn) as fh:\n    ", "\n", "data = json.load(fh)", "data = fh.read()"),
    ("if not name:\n    ", "\n", 'raise ValueError("name required")', "return None"),
    ("def greet(who):\n    ", "\n", 'return f"hello {who}"', 'print("hi")'),
    ("numbers = [1, 2, 3]\nsquares = ", "\n", "[n * n for n in numbers]", "list(map(sq, numbers))"),
]  # fmt: skip
CODE_OUTCOMES = ["accepted_refined", "rejected_written", "accepted_kept", "accepted_kept",
                 "accepted_refined", "partial_accepted", "rejected_empty", "accepted_deleted"]  # fmt: skip
CODE_DAYS = (date(2026, 11, 1), date(2026, 11, 2))


def code_refinements(day: date, user_for=lambda i: f"u{i % 3}") -> list[dict[str, Any]]:
    """One refinement per CODE row on `day`, with CODE_OUTCOMES in turn."""
    out = []
    for i, ((prefix, suffix, final, proposal), outcome) in enumerate(
        zip(CODE, CODE_OUTCOMES, strict=True)
    ):
        out.append({"ds": day, "completion_id": f"c{day.day}-{i}", "user_id": user_for(i),
                    "doc_uri": f"file:///repo/m{day.day}_{i}.py", "prompt_prefix": prefix,
                    "prompt_suffix": suffix, "proposal_text": proposal, "outcome": outcome,
                    "final_text": "" if outcome == "rejected_empty" else final,
                    "settled_reason": "quiet"})  # fmt: skip
    return out


LAYOUTS = {
    "raw.client_events": CLIENT_COLUMNS,
    "staging.refinements": REFINEMENT_COLUMNS,
    "training.examples": EXAMPLE_COLUMNS,
    "staging.int_completions_aligned_to_events": ALIGNED_COLUMNS,
    "raw.server_events": ("ds", "request_id", "ts", "model_version", "prompt_prefix",
                          "prompt_suffix", "completion", "latency_ms", "object_key", "line_no",
                          "payload"),
}  # fmt: skip


def insert(con: duckdb.DuckDBPyConnection, table: str, tuples: Sequence[Sequence[Any]]) -> None:
    """`given` for the tuple layouts of the row builders above (LAYOUTS)."""
    given(con, table, tuples, LAYOUTS[table])


# --- models -------------------------------------------------------------------------


def tiny_train_settings(**overrides) -> TrainSettings:
    base = dict(device="cpu", seq_len=64, batch_size=4, max_steps=6, warmup_steps=1,
                learning_rate=3e-3, eval_every=3, eval_batches=1, checkpoint_every=2,
                eval_max_examples=8, eval_generate_examples=2, max_new_tokens=8)  # fmt: skip
    return TrainSettings(**{**base, **overrides})


def tiny_fine_tune_env(monkeypatch, **overrides: str) -> None:
    """ECHO_TRAIN__* for a fine-tune of the tiny model in seconds (plus `overrides`), then
    fresh settings."""
    from echo_ops.config import reset_settings_cache

    env = {"DEVICE": "cpu", "SEQ_LEN": "64", "BATCH_SIZE": "4", "MAX_STEPS": "2",
           "WARMUP_STEPS": "1", "CHECKPOINT_EVERY": "2", "EVAL_EVERY": "2", "EVAL_SHARE": "0.5",
           "REPLAY_SHARE": "0.0", **overrides}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(f"ECHO_TRAIN__{k}", v)
    reset_settings_cache()


def seed_champion_and_two_days(con, model_dir) -> None:
    """Register `model_dir` as the champion "base" and build two days of training examples
    from the literal refinement rows of tests.kit (CODE)."""
    from echo_ops.datasets import build_training_examples
    from echo_ops.registry import register_model, set_champion

    register_model(con, model_dir, kind="bootstrap", model_id="base", settings=get_settings())
    set_champion(con, "base", "first")
    create_tables(con)
    for day in CODE_DAYS:
        given(con, "staging.refinements", code_refinements(day))
    for day in CODE_DAYS:
        build_training_examples(con, day, get_settings())
