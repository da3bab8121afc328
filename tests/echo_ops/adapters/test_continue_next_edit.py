"""Continue's nextEditWithHistory clusters become refinements only when unambiguous."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from echo_ops.adapters.continue_next_edit import Accepted, link
from echo_ops.adapters.importer import convert, local_files

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports" / "continue"
URI = "file:///p/a.py"
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BEFORE = "def f(x):\n    return x + 1\n"


def cluster(after, before=BEFORE, seconds=20, uri=URI, cursor=(1, 8)) -> str:
    return json.dumps({
        "eventName": "nextEditWithHistory", "schema": "0.2.0", "fileURI": uri,
        "timestamp": (AT + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "beforeContent": before, "afterContent": after,
        "beforeCursorPos": {"line": cursor[0], "character": cursor[1]},
    })  # fmt: skip


ACCEPTED = [Accepted("c1", URI, AT, "return x + 1")]


def test_an_unambiguous_cluster_refines_the_accepted_text():
    links, conv = link([cluster("def f(x):\n    return abs(x) + 1\n")], ACCEPTED)
    (only,) = links
    assert (only.completion_id, only.final_text) == ("c1", "return abs(x) + 1")
    assert 0.5 < only.confidence <= 1 and only.line_no == 1
    assert conv.counts["next_edit_linked"] == 1


def test_confidence_falls_with_time_and_a_cursor_elsewhere():
    near, _ = link([cluster("def f(x):\n    return x + 2\n", seconds=10)], ACCEPTED)
    far, _ = link([cluster("def f(x):\n    return x + 2\n", seconds=290, cursor=(0, 0))], ACCEPTED)
    assert near[0].confidence > far[0].confidence > 0


def test_no_link_without_file_time_and_overlap():
    edge = "def f(x):\n    return x + 1  # done\n"  # typed at the region's edge: outside it
    cases = [
        cluster("def f(x):\n    return x + 2\n", uri="file:///p/b.py"),  # other file
        cluster("def f(x):\n    return x + 2\n", seconds=-5),  # before the accept
        cluster("def f(x):\n    return x + 2\n", seconds=400),  # after the window
        cluster("def g(x):\n    return x + 1\n"),  # the edit is elsewhere
        cluster(edge),
        cluster("", before="return x + 1\nreturn x + 1\n"),  # the text is there twice
    ]
    links, conv = link(cases, ACCEPTED)
    assert links == [] and conv.counts["next_edit_no_match"] == len(cases)


def test_two_accepted_completions_that_both_fit_are_ambiguous():
    two = [*ACCEPTED, Accepted("c2", URI, AT, "def f(x):")]
    links, conv = link([cluster("def g(y):\n    return y\n")], two)
    assert links == [] and conv.counts["next_edit_ambiguous"] == 1


def test_the_fixture_links_one_cluster_and_quarantines_a_broken_one():
    d = FIXTURES / "alice/dev_data/0.2.0"
    from echo_ops.adapters.continue_next_edit import accepted_from

    accepted = accepted_from(
        convert("continue", local_files("continue", [d / "autocomplete.jsonl"])[0], "k")
    )
    links, conv = link((d / "nextEditWithHistory.jsonl").read_text().splitlines(), accepted)
    assert [(k.completion_id, k.final_text) for k in links] == [("c-001", "return int(a + b)")]
    assert conv.counts["next_edit_ambiguous"] == 1 and conv.counts["next_edit_no_match"] == 1
    assert [(b.line_no, b.reason) for b in conv.bad] == [(4, "missing_field: afterContent")]
