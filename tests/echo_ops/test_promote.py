"""Fine-tune -> evaluate -> promote on the tiny model, and the promotion rule both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from echo_ops.config import get_settings, reset_settings_cache
from echo_ops.evaluate import EvalDataError, edit_similarity, evaluate_candidate
from echo_ops.finetune import fine_tune, new_data_window, register_candidate
from echo_ops.promote import decide, promote_or_reject
from echo_ops.registry import (
    champion,
    get_model,
    list_models,
    register_model,
    set_champion,
    update_metrics,
)
from echo_ops.warehouse import open_warehouse
from tests.kit import CODE_DAYS, create_tables, seed_champion_and_two_days, tiny_fine_tune_env

D1, D2 = CODE_DAYS


def test_rule_promotes_only_a_measurable_gain():
    champ = {"loss": 2.0, "edit_similarity": 0.50}
    better = decide({"loss": 1.9, "edit_similarity": 0.50}, champ, 0.01, 0.02)
    assert better.promote and better.loss_gain == pytest.approx(0.05)
    marginal = decide({"loss": 1.99, "edit_similarity": 0.60}, champ, 0.01, 0.02)
    assert not marginal.promote and "not better enough" in marginal.reason
    worse_output = decide({"loss": 1.5, "edit_similarity": 0.40}, champ, 0.01, 0.02)
    assert not worse_output.promote and "completions got worse" in worse_output.reason


def test_edit_similarity():
    assert edit_similarity("abc", "abc") == 1.0
    assert edit_similarity("abcd", "abxd") == pytest.approx(0.75)
    assert edit_similarity("", "abc") == 0.0


def _fake(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text("{}")
    return d


def test_decision_is_stored_in_registry_and_beside_the_candidate(tmp_path, settings):
    with open_warehouse(get_settings()) as con:
        register_model(
            con, _fake(tmp_path, "base"), kind="bootstrap", model_id="base", settings=get_settings()
        )
        set_champion(con, "base", "first")
        for cid, loss in (("good", 1.0), ("meh", 1.99)):
            register_model(
                con,
                _fake(tmp_path, cid),
                kind="fine_tune",
                model_id=cid,
                parent_id="base",
                settings=get_settings(),
            )
            update_metrics(con, cid, {"eval": {"loss": loss, "edit_similarity": 0.5},
                                      "champion_eval": {"loss": 2.0, "edit_similarity": 0.5}})  # fmt: skip
        rejected = promote_or_reject(con, "meh", get_settings())
        promoted = promote_or_reject(con, "good", get_settings())
        assert rejected["promote"] is False
        assert promoted["promote"] and promoted["previous_champion"] == "base"
        assert champion(con).model_id == "good"
        assert get_model(con, "meh").status == "rejected"
        assert "not better enough" in get_model(con, "meh").decided_reason
        assert get_model(con, "base").status == "archived"
    saved = json.loads((Path(settings.storage.artifacts_uri) / "meh" / "decision.json").read_text())
    assert saved["promote"] is False and saved["rule"]["min_improvement"] == 0.01
    assert saved["config"]["min_improvement"] == 0.01


def test_fine_tune_evaluate_promote_end_to_end(tiny_copy, monkeypatch):
    """The echo_train task layer in order. fine_tune and evaluate_candidate run while
    another process reads the file (a shared lock, which any write would fail on): they
    never take the write lock; register and promote are the writes (tasks in echo_duckdb)."""
    from echo_ops import pipeline
    from echo_ops.warehouse import WarehouseLocked

    tiny_fine_tune_env(monkeypatch, MAX_STEPS="4", LEARNING_RATE="3e-3", EVAL_GENERATE_EXAMPLES="2",
                       MAX_NEW_TOKENS="6", MIN_IMPROVEMENT="-1.0", MAX_EDIT_SIM_DROP="1.0",
                       DPO_STEPS="2", PROMOTE_MARGIN="-1", REGRESSION_MAX_LOSS_RISE="10",
                       REPLAY_EVAL_EXAMPLES="8", REGRESSION_EXAMPLES="4", BOOTSTRAP_SAMPLES="50")  # fmt: skip
    monkeypatch.setenv("ECHO_STORAGE__LOCK_WAIT_S", "0")
    reset_settings_cache()
    with open_warehouse(get_settings()) as con:
        seed_champion_and_two_days(con, tiny_copy)
        window = new_data_window(con)
    assert window["from"] == D1 and window["to"] == D2 and window["new_examples"] > 0

    with _reader_holding(get_settings().storage.warehouse_path):
        counts = pipeline.fine_tune()
        cid = counts["candidate_id"]
        with pytest.raises(WarehouseLocked, match="echo_duckdb pool"):
            pipeline.register_candidate(cid)  # a writer meets the lock: retryable, said so
    with open_warehouse(get_settings(), read_only=True) as con:
        assert cid not in [m.model_id for m in list_models(con)]  # staged, not registered
    assert pipeline.register_candidate(cid)["parent_id"] == "base"
    with open_warehouse(get_settings()) as con:
        cand = get_model(con, cid)
        assert cand.status == "candidate" and cand.parent_id == "base"
        assert cand.data_window["to"] == "2026-11-02" and cand.metrics["train"]["steps"] == 4
        assert cand.config["train"]["max_steps"] == 4 and cand.metrics["train"]["tokens_per_s"] > 0
        assert cand.metrics["dpo"]["dpo_steps"] == 2 and cand.metrics["dpo"]["pairs"] > 0

    with _reader_holding(get_settings().storage.warehouse_path):
        evaluated = pipeline.evaluate_candidate(cid)
    report = json.loads(Path(evaluated["report_uri"]).read_text())
    assert report["candidate"]["n_examples"] == report["champion"]["n_examples"] > 0
    assert report["candidate"]["loss"] < report["champion"]["loss"]  # 4 steps, same distribution
    assert report["offline"]["requests"] > 0  # the guarded rule's offline estimate
    assert report["offline"]["regression"]["examples"] == 4
    with open_warehouse(get_settings(), read_only=True) as con:
        assert "eval" not in get_model(con, cid).metrics  # scoring wrote no table

    decision = pipeline.promote_or_reject(cid)  # records the evaluation, then decides
    assert decision["promoted"]
    with open_warehouse(get_settings()) as con:
        assert champion(con).model_id == cid
        assert get_model(con, cid).metrics["eval"]["loss"] == report["candidate"]["loss"]
        assert get_model(con, cid).decided_reason.startswith("promoted: acceptance ")
        # the champion now covers D2: nothing new to train on
        assert new_data_window(con)["new_examples"] == 0


@contextmanager
def _reader_holding(path: Path):
    """Another process with the file open read-only: DuckDB then refuses any write open."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True);"
         "print('held', flush=True); time.sleep(600)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_cli_evaluate_and_promote_still_work_in_one_process(tiny_copy, monkeypatch):
    """`echo-ops evaluate` scores and records in one go (a writer, like `promote`)."""
    tiny_fine_tune_env(monkeypatch, MAX_STEPS="2", EVAL_GENERATE_EXAMPLES="1", MAX_NEW_TOKENS="4",
                       PROMOTION_RULE="loss", MIN_IMPROVEMENT="-1.0", MAX_EDIT_SIM_DROP="1.0")  # fmt: skip
    with open_warehouse(get_settings()) as con:
        seed_champion_and_two_days(con, tiny_copy)
    cid = fine_tune(get_settings())["candidate_id"]
    with open_warehouse(get_settings()) as con:
        register_candidate(con, cid, get_settings())
        report = evaluate_candidate(con, cid, get_settings())
        assert get_model(con, cid).metrics["eval"] == report["candidate"]
        assert promote_or_reject(con, cid, get_settings())["promote"]
    assert Path(report["report_uri"]).is_file()


def test_evaluate_without_eval_rows_fails_clearly(tmp_path):
    with open_warehouse(get_settings()) as con:
        create_tables(con)
        register_model(
            con, _fake(tmp_path, "c"), kind="fine_tune", model_id="c", settings=get_settings()
        )
        with pytest.raises(EvalDataError, match="no held-out examples"):
            evaluate_candidate(con, "c", get_settings())


def test_champion_proposer_serves_the_champion(tiny_copy, monkeypatch):
    from echo_ops.generate import champion_proposer

    monkeypatch.setenv("ECHO_TRAIN__MAX_NEW_TOKENS", "5")
    monkeypatch.setenv("ECHO_TRAIN__TOKEN_MIN_PROB", "0")  # any proposal, however unsure
    reset_settings_cache()
    with pytest.raises(LookupError, match="no champion"):
        champion_proposer(get_settings())
    with open_warehouse(get_settings()) as con:
        register_model(con, tiny_copy, kind="bootstrap", model_id="base", settings=get_settings())
        set_champion(con, "base", "first")
    proposer = champion_proposer(get_settings())
    text, logprobs = proposer.propose("def add(a, b):\n    return ", "\n")
    assert proposer.model_version == "base"
    assert isinstance(text, str) and 0 < len(logprobs) <= 5
    assert all(lp <= 0.0 for lp in logprobs)


def test_fine_tuning_examples_have_the_served_shape(tiny_copy):
    """The cursor's whole line is the middle, as the proposer is served (prompt.line_example)."""
    from echo_ops.finetune import _load_window

    with open_warehouse(get_settings()) as con:
        seed_champion_and_two_days(con, tiny_copy)
        train_rows, eval_rows = _load_window(con, D1, D2, 8)
    rows = train_rows + eval_rows
    assert rows
    for ex in rows:
        assert ex.prefix == "" or ex.prefix.endswith("\n"), ex.prefix
        assert ex.target.endswith("\n") and not ex.suffix.startswith("\n"), ex
    # e.g. "    return " was typed before the cursor: it starts the middle now
    assert any(
        ex.target.startswith(("    return ", "path = ", "    total", "squares = ")) for ex in rows
    )


def test_a_second_fine_tune_on_the_same_window_gets_its_own_id(tiny_copy, monkeypatch, settings):
    """Issue 13: the second run reused the rejected candidate's id and replaced its files."""
    from echo_ops.registry import set_status

    tiny_fine_tune_env(monkeypatch)
    with open_warehouse(get_settings()) as con:
        seed_champion_and_two_days(con, tiny_copy)
    first = fine_tune(get_settings())["candidate_id"]
    with open_warehouse(get_settings()) as con:
        register_candidate(con, first, get_settings())
        set_status(con, first, "rejected", "test: not better")
    marker = Path(settings.storage.artifacts_uri) / first / "decision.json"
    marker.write_text("{}")
    second = fine_tune(get_settings())["candidate_id"]
    assert second != first and second.startswith(first)
    with open_warehouse(get_settings()) as con:
        register_candidate(con, second, get_settings())
        assert get_model(con, first).status == "rejected"
        assert get_model(con, second).status == "candidate"
    assert marker.is_file(), "the first candidate's files were replaced"


def test_no_fine_tune_while_the_window_has_nothing_to_judge_it_on():
    from echo_ops.finetune import fine_tune_decision

    window = {"champion_id": "base", "new_examples": 500, "new_eval_examples": 0}
    decision = fine_tune_decision(window, 50)
    assert not decision["fine_tune"] and "no held-out examples" in decision["reason"]
    assert fine_tune_decision({**window, "new_eval_examples": 3}, 50)["fine_tune"]


def test_a_run_only_backfilled_days_triggered_does_not_fine_tune():
    """A backfill of N days makes N Asset events; none of them alone starts a fine-tune, a
    scheduled day among them (or a manual run, with no events) does."""
    from echo_ops.finetune import fine_tune_decision

    window = {"champion_id": "base", "new_examples": 500, "new_eval_examples": 30}
    backfilled = [{"ds": "2026-11-03", "backfill": True}, {"ds": "2026-11-02", "backfill": True}]
    decision = fine_tune_decision(window, 50, backfilled)
    assert not decision["fine_tune"]
    assert (
        "only backfilled days" in decision["reason"]
        and "2026-11-02, 2026-11-03" in decision["reason"]
    )
    scheduled = {"ds": "2026-11-04", "backfill": False}
    assert fine_tune_decision(window, 50, [*backfilled, scheduled])["fine_tune"]
    assert fine_tune_decision(window, 50, [])["fine_tune"]
    assert fine_tune_decision(window, 50, [{}])["fine_tune"]  # an event without the flag
