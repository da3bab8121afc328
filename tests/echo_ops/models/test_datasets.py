"""Training set builder on literal refinement rows: weights, filters, consent, lineage, replay."""

from __future__ import annotations

import pytest

from echo_ops.config import get_settings, reset_settings_cache
from echo_ops.datasets import TrainingDataError, build_training_examples
from echo_ops.warehouse import open_warehouse
from tests.kit import CODE_DAYS, code_refinements, create_tables, given

D1, D2 = CODE_DAYS

_LOADED = ("completion_id", "user_id", "doc_uri", "prompt_prefix", "prompt_suffix",
           "proposal_text", "outcome", "final_text")  # fmt: skip


def _load(con, day, rows):
    given(con, "staging.refinements", [{"ds": day, **dict(zip(_LOADED, r, strict=True)),
                                        "settled_reason": "quiet"} for r in rows])  # fmt: skip


def _examples(con, day):
    rel = con.execute("select * from training.examples where ds = ? order by example_id", [day])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    root.mkdir()
    for i in range(4):
        body = "".join(f"def helper_{i}_{j}(value):\n    return value + {j}\n\n" for j in range(30))
        (root / f"mod{i}.py").write_text(body)
    monkeypatch.setenv("ECHO_TRAIN__CORPUS_DIR", str(root))
    monkeypatch.setenv("ECHO_TRAIN__REPLAY_SHARE", "0.5")
    reset_settings_cache()
    return root


def test_day_one_weights_filters_consent_and_lineage(corpus):
    with open_warehouse(get_settings()) as con:
        create_tables(con)
        con.execute(
            "insert into ops.consent (user_id, opted_out) values ('u2', true), ('u0', false)"
        )
        given(con, "staging.refinements", code_refinements(D1))
        counts = build_training_examples(con, D1, get_settings())
        rows = _examples(con, D1)
    refs = [r for r in rows if r["source"] == "refinement"]
    # u2 (opted out) wrote rows 2 and 5; rows 6 and 7 (rejected_empty, accepted_deleted) weigh 0
    assert sorted(r["refinement_id"] for r in refs) == ["c1-0", "c1-1", "c1-3", "c1-4"]
    assert all(r["user_id"] != "u2" for r in rows)
    weights = {r["refinement_id"]: r["weight"] for r in refs}
    assert weights == {"c1-0": 1.5, "c1-1": 1.0, "c1-3": 1.0, "c1-4": 1.5}
    by_id = {r["refinement_id"]: r for r in refs}
    assert by_id["c1-0"]["target"] == "3.14159 * r ** 2"  # the settled final text, not the proposal
    assert all(r["origin_ds"] == D1 and r["split"] in ("train", "eval") for r in refs)
    # no earlier day: replay comes from the base corpus alone, tagged as such
    base = [r for r in rows if r["source"] == "base_corpus"]
    n_train = sum(r["split"] == "train" for r in refs)
    assert len(base) == n_train  # replay_share 0.5: as many replay rows as new training rows
    assert all(r["refinement_id"] is None and r["doc_uri"].startswith("corpus://") for r in base)
    assert counts["filtered"] == 2 and counts["rows_out"] == len(rows)
    # preference pairs: kept outcomes whose final text differs from the proposal (c1-3 kept it as is)
    with open_warehouse(get_settings()) as con:
        pairs = con.execute(
            "select refinement_id, chosen, rejected from training.preference_pairs order by 1"
        ).fetchall()
    assert [p[0] for p in pairs] == ["c1-0", "c1-1", "c1-4"]
    assert pairs[0][1:] == ("3.14159 * r ** 2", "3.14 * r * r")


def test_day_two_replays_day_one_and_a_rerun_is_identical(corpus):
    with open_warehouse(get_settings()) as con:
        create_tables(con)
        given(con, "staging.refinements", code_refinements(D1))
        given(con, "staging.refinements", code_refinements(D2))
        build_training_examples(con, D1, get_settings())
        build_training_examples(con, D2, get_settings())
        first = _examples(con, D2)
        build_training_examples(con, D2, get_settings())
        again = _examples(con, D2)
        day1_train = {r[0] for r in con.execute(
            "select refinement_id from training.examples where ds = ? and source = 'refinement' and split = 'train'", [D1]
        ).fetchall()}  # fmt: skip
    assert first == again
    replay = [r for r in first if r["source"] == "replay"]
    assert replay, "day two should replay day one"
    assert all(r["origin_ds"] == D1 and r["refinement_id"] in day1_train for r in replay)
    assert all(r["split"] == "train" for r in replay)
    assert len({r["example_id"] for r in first}) == len(first)


def test_secret_in_target_is_dropped_and_context_redacted(corpus):
    key = "AKIAIOSFODNN7EXAMPLE"
    with open_warehouse(get_settings()) as con:
        create_tables(con)
        _load(con, D1, [
            ("s1", "u0", "file:///a.py", "x = 1\n", "\n", "k", "accepted_refined", f'aws_key = "{key}"'),
            ("s2", "u0", "file:///b.py", f'KEY = "{key}"\nclient = ', "\n", "c", "accepted_refined", "connect(KEY)"),
        ])  # fmt: skip
        counts = build_training_examples(con, D1, get_settings())
        rows = _examples(con, D1)
    assert counts["secret_targets_dropped"] == 1
    assert [r["refinement_id"] for r in rows if r["source"] == "refinement"] == ["s2"]
    assert all(key not in (r["prefix"] + r["suffix"] + r["target"]) for r in rows)


def test_fresh_warehouse_is_an_empty_day_but_a_broken_table_fails_clearly():
    with open_warehouse(get_settings()) as con:
        counts = build_training_examples(con, D1, get_settings())
        assert counts["refinements"] == 0 and counts["rows_out"] == 0
        con.execute(
            "create table staging.refinements (ds date, completion_id varchar, user_id varchar)"
        )
        with pytest.raises(TrainingDataError, match="lacks column.*final_text"):
            build_training_examples(con, D1, get_settings())
