"""Training set builder on literal refinement rows: weights, filters, consent, lineage, replay."""

from __future__ import annotations

from datetime import date

import pytest

from echo_ops.config import get_settings, reset_settings_cache
from echo_ops.datasets import TrainingDataError, build_training_examples
from echo_ops.warehouse import open_warehouse

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)

_DDL = """
create table staging.refinements (
    ds date, completion_id varchar, request_id varchar, user_id varchar, session_id varchar,
    doc_uri varchar, language_id varchar, model_version varchar, shown_at timestamp,
    prompt_prefix varchar, prompt_suffix varchar, proposal_text varchar, accepted_text varchar,
    accept_kind varchar, outcome varchar, final_text varchar, settled_reason varchar,
    trajectory_json json, edit_distance integer, kept_rate double, accepted_retained_chars integer)
"""
_CODE = [
    ("def area(r):\n    return ", "\n", "3.14159 * r ** 2", "3.14 * r * r"),
    ("import os\npath = ", "\nprint(path)\n", "os.path.join(base, name)", "os.path.join(base)"),
    ("for item in items:\n    ", "\n", "total += item.price", "total += item"),
    (
        "class Stack:\n    def push(self, x):\n        ",
        "\n",
        "self.items.append(x)",
        "self.items.append(x)",
    ),
    ("with open(fn) as fh:\n    ", "\n", "data = json.load(fh)", "data = fh.read()"),
    ("if not name:\n    ", "\n", 'raise ValueError("name required")', "return None"),
    ("def greet(who):\n    ", "\n", 'return f"hello {who}"', 'print("hi")'),
    ("numbers = [1, 2, 3]\nsquares = ", "\n", "[n * n for n in numbers]", "list(map(sq, numbers))"),
]
_OUTCOMES = ["accepted_refined", "rejected_written", "accepted_kept", "accepted_kept",
             "accepted_refined", "partial_accepted", "rejected_empty", "accepted_deleted"]  # fmt: skip


def _load(con, day, rows):
    for r in rows:
        con.execute(
            "insert into staging.refinements (ds, completion_id, user_id, doc_uri, prompt_prefix, prompt_suffix, "
            "proposal_text, outcome, final_text, settled_reason) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'quiet')",
            [day, *r],
        )


def _rows(day: date, user_for=lambda i: f"u{i % 3}"):
    out = []
    for i, ((prefix, suffix, final, proposal), outcome) in enumerate(
        zip(_CODE, _OUTCOMES, strict=True)
    ):
        final = "" if outcome == "rejected_empty" else final
        out.append((f"c{day.day}-{i}", user_for(i), f"file:///repo/m{day.day}_{i}.py", prefix, suffix,
                    proposal, outcome, final))  # fmt: skip
    return out


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
    with open_warehouse() as con:
        con.execute(_DDL)
        con.execute(
            "insert into ops.consent (user_id, opted_out) values ('u2', true), ('u0', false)"
        )
        _load(con, D1, _rows(D1))
        counts = build_training_examples(con, D1)
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
    with open_warehouse() as con:
        pairs = con.execute(
            "select refinement_id, chosen, rejected from training.preference_pairs order by 1"
        ).fetchall()
    assert [p[0] for p in pairs] == ["c1-0", "c1-1", "c1-4"]
    assert pairs[0][1:] == ("3.14159 * r ** 2", "3.14 * r * r")


def test_day_two_replays_day_one_and_a_rerun_is_identical(corpus):
    with open_warehouse() as con:
        con.execute(_DDL)
        _load(con, D1, _rows(D1))
        _load(con, D2, _rows(D2))
        build_training_examples(con, D1)
        build_training_examples(con, D2)
        first = _examples(con, D2)
        build_training_examples(con, D2)
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
    with open_warehouse() as con:
        con.execute(_DDL)
        _load(con, D1, [
            ("s1", "u0", "file:///a.py", "x = 1\n", "\n", "k", "accepted_refined", f'aws_key = "{key}"'),
            ("s2", "u0", "file:///b.py", f'KEY = "{key}"\nclient = ', "\n", "c", "accepted_refined", "connect(KEY)"),
        ])  # fmt: skip
        counts = build_training_examples(con, D1)
        rows = _examples(con, D1)
    assert counts["secret_targets_dropped"] == 1
    assert [r["refinement_id"] for r in rows if r["source"] == "refinement"] == ["s2"]
    assert all(key not in (r["prefix"] + r["suffix"] + r["target"]) for r in rows)


def test_fresh_warehouse_is_an_empty_day_but_a_broken_table_fails_clearly():
    with open_warehouse() as con:
        counts = build_training_examples(con, D1, get_settings())
        assert counts["refinements"] == 0 and counts["rows_out"] == 0
        con.execute(
            "create table staging.refinements (ds date, completion_id varchar, user_id varchar)"
        )
        with pytest.raises(TrainingDataError, match="lacks column.*final_text"):
            build_training_examples(con, D1, get_settings())
