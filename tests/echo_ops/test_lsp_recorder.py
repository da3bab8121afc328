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
