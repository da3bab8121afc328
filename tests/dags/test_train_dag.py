"""The model tasks as wired in the DAGs: order, pools, queue, Asset outlet."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag


def _edges(dag) -> list[tuple[str, str]]:
    return sorted((t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids)


def test_echo_train_chain_pools_and_queue(bag):
    from echo_ops.config import get_settings

    dag = bag.dags["echo_train"]
    assert _edges(dag) == [
        ("check_new_data", "fine_tune"),
        ("evaluate_candidate", "promote_or_reject"),
        ("fine_tune", "register_candidate"),
        ("register_candidate", "evaluate_candidate"),
    ]
    s = get_settings().schedule
    fine_tune = dag.get_task("fine_tune")
    assert fine_tune.pool == s.gpu_pool and fine_tune.queue == s.gpu_queue
    assert dag.get_task("evaluate_candidate").pool == s.gpu_pool
    for writer in ("register_candidate", "promote_or_reject", "check_new_data"):
        assert dag.get_task(writer).pool == s.duckdb_pool
    assert type(dag.get_task("check_new_data")).__name__ == "_ShortCircuitDecoratedOperator"


def test_training_set_asset_comes_only_from_a_validated_training_set(bag):
    dag = bag.dags["echo_daily"]
    validated = dag.get_task("validate_training_set")
    assert [a.name for a in validated.outlets] == ["echo_training_set"]
    assert "validate_training_set" in dag.get_task("build_training_examples").downstream_task_ids
    others = [t.task_id for t in dag.tasks if t.outlets and t.task_id != "validate_training_set"]
    assert others == []
