"""The real echo_train DAG (`airflow dags test`) on the tiny model: skip, then train and promote."""

from __future__ import annotations

import pytest

from echo_ops.config import get_settings, reset_settings_cache
from tests.e2e.conftest import dags_test
from tests.e2e.test_echo_daily import _state

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TINY = {"ECHO_TRAIN__DEVICE": "cpu", "ECHO_TRAIN__SEQ_LEN": "64", "ECHO_TRAIN__BATCH_SIZE": "4",
        "ECHO_TRAIN__MAX_STEPS": "3", "ECHO_TRAIN__EVAL_SHARE": "0.5", "ECHO_TRAIN__REPLAY_SHARE": "0",
        "ECHO_TRAIN__EVAL_GENERATE_EXAMPLES": "1", "ECHO_TRAIN__MAX_NEW_TOKENS": "4",
        "ECHO_TRAIN__MIN_IMPROVEMENT": "-1", "ECHO_TRAIN__MAX_EDIT_SIM_DROP": "1"}  # fmt: skip


def test_train_dag_skips_then_trains_and_promotes(airflow_env, tmp_path, monkeypatch):
    from echo_ops.bootstrap import bootstrap_and_register
    from echo_ops.datasets import build_training_examples
    from echo_ops.registry import champion, get_model, list_models
    from echo_ops.warehouse import open_warehouse
    from tests.kit import CODE_DAYS, code_refinements, create_tables, given

    monkeypatch.setenv("ECHO_DATA_ROOT", str(tmp_path))
    for k, v in TINY.items():
        monkeypatch.setenv(k, v)
    reset_settings_cache()
    base = bootstrap_and_register("tiny", get_settings())["model_id"]
    with open_warehouse(get_settings()) as con:
        create_tables(con)
        for day in CODE_DAYS:
            given(con, "staging.refinements", code_refinements(day))
            build_training_examples(con, day, get_settings())

    skipped = dags_test(airflow_env, "echo_train", "2026-11-03", tmp_path, **TINY,
                        ECHO_TRAIN__MIN_NEW_EXAMPLES="100000")  # fmt: skip
    assert _state(skipped) == "success", skipped.stdout[-3000:]
    assert "end task task_id=fine_tune" not in skipped.stdout + skipped.stderr
    with open_warehouse(get_settings()) as con:
        assert [m.model_id for m in list_models(con)] == [base]

    trained = dags_test(
        airflow_env, "echo_train", "2026-11-03", tmp_path, **TINY, ECHO_TRAIN__MIN_NEW_EXAMPLES="1"
    )
    assert _state(trained) == "success", trained.stdout[-4000:] + trained.stderr[-2000:]
    with open_warehouse(get_settings()) as con:
        champ = champion(con)
        assert champ.model_id != base and champ.parent_id == base
        assert get_model(con, base).status == "archived"
        assert champ.metrics["decision"]["promote"] is True
    assert (tmp_path / "models" / champ.model_id / "decision.json").is_file()
