"""Dedup, grouped split and decontamination invariants on hand-made examples."""

from __future__ import annotations

from echo_ops.dedup import assign_split, decontaminate, dedup_examples

BODY = "\n".join(f"    total_{i} = compute(values[{i}], weight={i} * scale)" for i in range(12))


def _row(i, target=BODY, prefix="def f(values, scale):\n", doc="file:///r/a.py"):
    return {
        "example_id": str(i),
        "prefix": prefix,
        "suffix": "\n",
        "target": target,
        "doc_uri": doc,
    }


def test_exact_and_whitespace_duplicates_are_removed():
    rows = [_row(1), _row(2), _row(3, target=BODY.replace("    ", "\t"))]
    kept, counts = dedup_examples(rows)
    assert [r["example_id"] for r in kept] == ["1"]
    assert counts == {"rows_in": 3, "exact_dupes": 2, "near_dupes": 0, "rows_out": 1}


def test_near_duplicates_are_removed_but_distinct_code_kept():
    near = BODY.replace("total_11", "total_eleven")
    other = "\n".join(f"    print('line', {i}, sep='-')" for i in range(12))
    kept, counts = dedup_examples([_row(1), _row(2, target=near), _row(3, target=other)])
    assert [r["example_id"] for r in kept] == ["1", "3"]
    assert counts["near_dupes"] == 1


def test_dedup_does_not_mutate_input():
    rows = [_row(1), _row(2)]
    dedup_examples(rows)
    assert len(rows) == 2 and "split" not in rows[0]


def test_split_is_grouped_by_file_and_deterministic():
    rows = [_row(i, target=f"x = {i}", doc=f"file:///r/m{i % 40}.py") for i in range(400)]
    a = assign_split(rows, eval_share=0.2, seed=3)
    b = assign_split(rows, eval_share=0.2, seed=3)
    assert [r["split"] for r in a] == [r["split"] for r in b]
    sides: dict[str, set] = {}
    for r in a:
        sides.setdefault(r["doc_uri"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
    share = sum(r["split"] == "eval" for r in a) / len(a)
    assert 0.05 < share < 0.4


def test_decontaminate_drops_training_rows_that_leak_eval():
    eval_rows = [_row("e1")]
    leak_exact = _row("t1")
    leak_ngram = _row(
        "t2",
        target="x = 0\n" + BODY.splitlines()[3] + "\n" + BODY.splitlines()[4],
        prefix="other\n",
    )
    clean = _row("t3", target="return sorted(items, key=len)", prefix="def g(items):\n")
    kept, removed = decontaminate([leak_exact, leak_ngram, clean], eval_rows)
    assert [r["example_id"] for r in kept] == ["t3"] and removed == 2


def test_dedup_scales_to_thousands_of_rows_quickly():
    import time

    rows = [
        _row(i, target=f"value_{i} = fetch({i}, retries={i % 7})\nlog(value_{i})", doc=f"f{i}")
        for i in range(5000)
    ]
    started = time.perf_counter()
    kept, counts = dedup_examples(rows + rows[:100])
    assert counts["exact_dupes"] == 100
    assert time.perf_counter() - started < 20


def test_decontaminate_swapped_cleans_an_eval_set_against_training():
    train = [_row("t1")]
    new_eval = [_row("e1"), _row("e2", target="yield from walk(tree)", prefix="def h(tree):\n")]
    kept, removed = decontaminate(new_eval, train)
    assert [r["example_id"] for r in kept] == ["e2"] and removed == 1


def test_a_short_target_that_is_an_eval_target_is_decontaminated():
    # No 13-token run to share, other files and contexts: only the target is the same,
    # and that alone makes every offline evaluation of it look better than it is.
    eval_rows = [
        {"prefix": "def area(r):\n    ", "suffix": "\n", "target": "return x", "doc_uri": "a.py"}
    ]
    train = [
        {"prefix": "class Stack:\n    def top(self):\n        ", "suffix": "", "target": "return x\n", "doc_uri": "b.py"},
        {"prefix": "def g():\n    ", "suffix": "", "target": "return y", "doc_uri": "c.py"},
    ]  # fmt: skip
    clean, removed = decontaminate(train, eval_rows)
    assert removed == 1 and [r["doc_uri"] for r in clean] == ["c.py"]
