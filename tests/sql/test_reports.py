"""include/sql/reports/ from literal rows."""

from __future__ import annotations

import json
from datetime import date

from echo_ops.warehouse import read_sql
from tests.kit import given, warehouse

DOC = "file:///home/u1/work/pkg/{}"


def _trained(con, rel, prefix, target, suffix, ds="2026-11-02"):
    given(con, "training.examples", [dict(ds=ds, example_id=f"e{rel}{prefix}{target}",
          source="refinement", split="train", doc_uri=DOC.format(rel), prefix=prefix,
          target=target, suffix=suffix)])  # fmt: skip


def _typed(con, docs, cid, rel, prefix, final, suffix, ds="2026-11-03", shown_at=None,
           document=None):  # fmt: skip
    """One completion in its own session; the session's final document is `document`, by
    default the completion's text in its context (the person typed nothing more)."""
    session, uri = f"s-{cid}", DOC.format(rel)
    given(con, "staging.refinements", [dict(ds=ds, shown_ds=ds, completion_id=cid,
          session_id=session, doc_uri=uri, prompt_prefix=prefix, final_text=final,
          prompt_suffix=suffix, shown_at=shown_at or f"{ds} 10:00:00")])  # fmt: skip
    final_text = prefix + final + suffix if document is None else document
    with docs.open("a") as f:
        f.write(json.dumps(dict(session_id=session, doc_uri=uri, final_text=final_text)) + "\n")


def test_measured_lines_count_whole_lines_typed_before_in_the_same_file(tmp_path):
    con, docs = warehouse(), tmp_path / "documents.jsonl"
    # trained on day 1: a whole line in a.py, and a fragment of another line in a.py
    _trained(con, "a.py", "x = 1\n    ", "return compute_total(items)", "\n")
    _trained(con, "a.py", "\n", "def __init__(self, a", "):\n")
    # day 2: the same line typed again in a.py (counted), the same fragment as part of a
    # different line (not counted), the line in another file (counted as generic)
    _typed(con, docs, "c1", "a.py", "y = 2\n    return ", "compute_total(items)", "\n")
    _typed(con, docs, "c2", "a.py", "\n", "def __init__(self, a", ", b):\n")
    _typed(con, docs, "c3", "b.py", "\n    ", "return compute_total(items)", "")
    _typed(con, docs, "c4", "b.py", "\n", "   ", "already_here_long_enough = 1\n")  # nothing typed
    # regions that settled mid-line on both days (each person typed on after it): the two
    # rebuilt texts are equal, the lines typed (`z):` and `z, b):`) are not
    _trained(con, "a.py", "\n", "def __init__(self, z", "\n")
    _typed(con, docs, "c6", "a.py", "\n", "def __init__(self, z", "\n",
           document="\ndef __init__(self, z, b):\n")  # fmt: skip
    # typed on day 1 (client clock), its shown event delivered late into day 2's landing:
    # the same line trained on day 1 is the same day's typing, not a repeat
    _trained(con, "c.py", "\n", "value = compute_other(items)", "\n")
    _typed(con, docs, "c5", "c.py", "\n", "value = compute_other(items)", "\n",
           shown_at="2026-11-02 23:59:00")  # fmt: skip
    row = con.execute(
        read_sql("reports/measured_lines_in_training"),
        {"first": date(2026, 11, 3), "repo": "pkg", "min_chars": 16, "documents": str(docs)},
    ).fetchone()
    assert row == (3, 1, 1)  # measured, same file, other file only
