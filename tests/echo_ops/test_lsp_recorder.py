"""What the language server may record: workspace, secret globs, opt-out (no editor needed)."""

from __future__ import annotations

import pytest

from echo_ops.lsp import Recorder


@pytest.fixture
def rec(settings) -> Recorder:
    r = Recorder(settings)
    r.roots = ["/home/dev/project"]
    return r


@pytest.mark.parametrize(
    ("uri", "recorded"),
    [
        ("file:///home/dev/project/app.py", True),
        ("file:///home/dev/project/src/deep/mod.py", True),
        ("file:///home/dev/project-other/app.py", False),  # a sibling is not inside
        ("file:///tmp/scratch.py", False),
        ("file:///home/dev/project/.env", False),
        ("file:///home/dev/project/.env.production", False),
        ("file:///home/dev/project/certs/server.pem", False),
        ("file:///home/dev/project/deploy/id_rsa", False),
        ("file:///home/dev/project/deploy/id_ed25519.pub", False),
        ("file:///home/dev/project/.ssh/config", False),
        ("file:///home/dev/project/my%20app.py", True),  # percent-encoded paths decode
    ],
)
def test_only_workspace_files_that_are_not_secrets_are_recorded(rec, uri, recorded):
    assert rec.records(uri) is recorded


def test_opt_out_records_nothing_and_no_workspace_means_nothing_is_inside(rec):
    rec.opt_out = True
    assert not rec.records("file:///home/dev/project/app.py")
    rec.opt_out, rec.roots = False, []
    assert not rec.records("file:///home/dev/project/app.py")


def test_the_pseudonym_is_stable_and_names_no_one(settings):
    a, b = Recorder(settings), Recorder(settings)
    assert a.user_id == b.user_id and a.user_id.startswith("u-") and len(a.user_id) == 18
    assert a.session_id != b.session_id


def _change(line: int, character: int, text: str):
    from lsprotocol import types as t

    pos = t.Position(line=line, character=character)
    return t.TextDocumentContentChangePartial(range=t.Range(start=pos, end=pos), text=text)


@pytest.mark.parametrize(
    ("changes", "version", "inferred"),
    [
        ([_change(2, 4, "return")], 6, ("return", "word")),
        ([_change(2, 4, "return x\n")], 6, ("return x\n", "line")),
        ([_change(2, 4, "return x")], 6, ("return x", "line")),  # up to the line's end
        ([_change(2, 4, "r")], 6, None),  # one typed character is typing
        ([_change(2, 4, "return x\n    y")], 6, None),  # the whole item: its command says so
        ([_change(2, 4, "retour")], 6, None),  # not the proposal
        ([_change(2, 5, "eturn")], 6, None),  # not where it was shown
        ([_change(2, 4, "return")], 7, None),  # another edit came in between
        ([_change(2, 4, "ret"), _change(0, 0, "#")], 6, None),  # a change list: not an accept
    ],
)
def test_a_partial_accept_is_recognised_in_the_didchange_that_makes_it(changes, version, inferred):
    from echo_ops.lsp import infer_accept

    shown = {"items": ["return x\n    y"], "taken": "", "at": (2, 4), "seen": 5}
    assert infer_accept(shown, changes, version) == inferred


class _Collected:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, event: dict) -> None:
        self.events.append(event)


def test_a_newer_request_retires_unaccepted_proposals_with_the_right_reason(rec):
    from echo_ops.lsp import _reject_stale

    rec.poster = _Collected()
    doc = {"uri": "file:///home/dev/project/a.py", "version": 3, "language_id": "python"}
    pending = {
        "c-typed": {"doc": doc, "accepted": False},
        "c-kept": {"doc": doc, "accepted": True},
        "c-other": {"doc": {**doc, "uri": "file:///home/dev/project/b.py"}, "accepted": False},
    }
    _reject_stale(rec, pending, doc["uri"], 5)  # the document moved on: typed over
    assert [(e["completion_id"], e["reason"], e["doc"]["version"]) for e in rec.poster.events] == [
        ("c-typed", "typed_over", 5)]  # fmt: skip
    assert set(pending) == {"c-other"}
    pending["c-again"] = {"doc": {**doc, "version": 5}, "accepted": False}
    _reject_stale(rec, pending, doc["uri"], 5)  # asked again at the same version: dismissed
    assert rec.poster.events[-1]["reason"] == "dismissed"
