"""DuckDB lock discipline, as wired: every task that writes the warehouse runs in the
`echo_duckdb` pool. The few that do not are declared here with what they do instead, and
tests/echo_ops/test_lock_discipline.py proves they never take the write lock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# task -> why it may run outside the writers' pool
NOT_WRITERS = {
    "resolve_partition": "computes a date; opens nothing",
    "fine_tune": "reads the window read-only for seconds, writes files (register_candidate registers)",
    "evaluate_candidate": "reads its inputs read-only, scores without the warehouse, writes a report "
    "file (promote_or_reject records it)",
    "extract_shard": "never opens the warehouse: reads its shard's Parquet, writes decisions.parquet "
    "(merge_extract writes; tests/echo_ops/extract/test_shards.py runs shards with the file moved away)",
}


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag


def test_every_warehouse_writer_is_in_the_duckdb_pool(bag):
    from echo_ops.config import get_settings

    pool = get_settings().schedule.duckdb_pool
    outside = sorted(
        f"{dag_id}.{t.task_id} (pool {t.pool})"
        for dag_id, dag in bag.dags.items()
        for t in dag.tasks
        if t.pool != pool and t.task_id not in NOT_WRITERS
    )
    assert outside == [], "a task outside echo_duckdb that may write the warehouse"
    # the declared exceptions exist (a rename must not silently widen the list)
    tasks = {t.task_id for dag in bag.dags.values() for t in dag.tasks}
    assert set(NOT_WRITERS) <= tasks


def _calls_in(function: str) -> list[ast.Call]:
    tree = ast.parse((REPO / "plugins" / "echo_ops" / "pipeline.py").read_text())
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    return [n for n in ast.walk(fn) if isinstance(n, ast.Call)]


@pytest.mark.parametrize("function", ["fine_tune", "evaluate_candidate"])
def test_the_exceptions_open_the_warehouse_read_only_in_the_task_layer(function):
    opens = [c for c in _calls_in(function) if getattr(c.func, "id", None) == "_open"]
    for call in opens:
        flags = {k.arg: getattr(k.value, "value", None) for k in call.keywords}
        assert flags.get("read_only") is True, f"pipeline.{function} opens the warehouse to write"
