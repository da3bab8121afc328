"""echo_daily's stage order, and data errors failing without retries."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "echo_daily.py"


@pytest.fixture(scope="module")
def daily():
    spec = importlib.util.spec_from_file_location("echo_daily_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_hop_is_validated_before_the_next_stage(daily):
    dag = daily.echo_daily()
    edges = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert edges["init_warehouse"] == ["import_assistant_logs"]
    assert edges["import_assistant_logs"] == ["ingest"]
    assert edges["ingest"] == ["validate_raw_client", "validate_raw_server"]
    assert edges["validate_raw_client"] == edges["validate_raw_server"] == ["align"]
    assert edges["align"] == ["validate_aligned"]
    assert edges["validate_aligned"] == ["plan_extract"]
    assert edges["plan_extract"] == ["extract_shard"]
    assert edges["extract_shard"] == ["merge_extract"]
    assert edges["merge_extract"] == ["validate_refinements"]
    assert edges["validate_refinements"] == ["build_training_examples", "refresh_marts"]
    assert edges["build_training_examples"] == ["validate_training_set"]
    assert edges["validate_training_set"] == []
    assert edges["refresh_marts"] == ["validate_marts"]
    assert edges["validate_marts"] == ["online_guard"]
    assert edges["online_guard"] == ["publish_snapshot"]


def test_extract_fans_out_over_mapped_shards_outside_the_warehouse_pool(daily):
    """Only the plan and the merge touch the warehouse (the echo_duckdb pool); the shards
    are one mapped task instance each, in their own pool, on any worker."""
    from echo_ops.config import get_settings

    dag = daily.echo_daily()
    pools = get_settings().schedule
    shard = dag.get_task("extract_shard")
    assert "MappedOperator" in type(shard).__name__
    assert shard.pool == pools.extract_pool != pools.duckdb_pool
    assert (
        dag.get_task("plan_extract").pool == dag.get_task("merge_extract").pool == pools.duckdb_pool
    )
    assert "resolve_partition" not in shard.upstream_task_ids  # its spec carries the day


def test_marts_and_the_analyst_copy_never_wait_on_the_training_set(daily):
    """A failed training-set check must not hold back the analysts' refresh (issue 16)."""
    dag = daily.echo_daily()
    for task_id in ("refresh_marts", "validate_marts", "online_guard", "publish_snapshot"):
        upstream = dag.get_task(task_id).get_flat_relative_ids(upstream=True)
        assert "validate_refinements" in upstream
        assert not upstream & {"build_training_examples", "validate_training_set"}


def test_data_errors_become_fail_exceptions(daily):
    from airflow.sdk.exceptions import AirflowFailException

    from echo_ops.extract.accounting import AccountingError
    from echo_ops.ingest import IngestError

    def fails_with(error):
        def task(ds):
            raise error

        return task

    for error in (IngestError("bad lines"), AccountingError("books")):
        with pytest.raises(AirflowFailException, match=type(error).__name__):
            daily.fail_fast(fails_with(error), "2026-11-02")
    with pytest.raises(OSError):  # transient faults keep their retries
        daily.fail_fast(fails_with(OSError("disk")), "2026-11-02")
