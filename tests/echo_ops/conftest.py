"""Fixtures shared by the stage tests: the hand-driven editor kit on the path, and one tiny
base model (2 layers, 64 hidden, vocab 512, seq 64) for the whole session, trained from
scratch in a few seconds on a slice of the standard library."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from echo_ops.config import Settings

# eventkit (the hand-driven test editor) lives beside these tests.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    from echo_ops.bootstrap import bootstrap_model

    root = tmp_path_factory.mktemp("tiny-base")
    bootstrap_model("tiny", root / "model", settings=Settings(data_root=root))
    return root / "model"


MEMORISED_SOURCE = """import os


def path_of(name):
    return os.path.join(ROOT, name)


def size_of(name):
    return os.path.getsize(path_of(name))
"""


@pytest.fixture(scope="session")
def memorised_base(tmp_path_factory) -> Path:
    """A tiny base model trained until it writes MEMORISED_SOURCE back (about 15 s): a
    model that knows what comes next, for tests of what is offered at a cursor."""
    from echo_ops import bootstrap
    from echo_ops.bootstrap import Preset, bootstrap_model

    root = tmp_path_factory.mktemp("memorised-base")
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(40):
        (corpus / f"m{i}.py").write_text(MEMORISED_SOURCE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(
            bootstrap.PRESETS, "memorise", Preset(512, 2, 64, 2, 172, 64, 120_000, 150, 8, 1e-2)
        )
        bootstrap_model(
            "memorise", root / "model", settings=Settings(data_root=root), corpus_dir=corpus
        )
    return root / "model"


@pytest.fixture
def tiny_copy(tiny_base, tmp_path) -> Path:
    """A private copy of the tiny model a test may register or overwrite."""
    return Path(shutil.copytree(tiny_base, tmp_path / "base"))
