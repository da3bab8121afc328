"""Model-stage fixtures: one tiny base model (2 layers, 64 hidden, vocab 512, seq 64) for the
whole session, trained from scratch in a few seconds on a slice of the standard library."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from echo_ops.config import Settings, TrainSettings, get_settings


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


def tiny_train_settings(**overrides) -> TrainSettings:
    base = dict(device="cpu", seq_len=64, batch_size=4, max_steps=6, warmup_steps=1,
                learning_rate=3e-3, eval_every=3, eval_batches=1, checkpoint_every=2,
                eval_max_examples=8, eval_generate_examples=2, max_new_tokens=8)  # fmt: skip
    return TrainSettings(**{**base, **overrides})


def seed_champion_and_two_days(con, model_dir: Path) -> None:
    """Register `model_dir` as the champion "base" and build two days of training examples
    from the literal refinement rows of tests.kit (CODE)."""
    from echo_ops.datasets import build_training_examples
    from echo_ops.registry import register_model, set_champion
    from tests.kit import CODE_DAYS, code_refinements, create_tables, given

    register_model(con, model_dir, kind="bootstrap", model_id="base", settings=get_settings())
    set_champion(con, "base", "first")
    create_tables(con)
    for day in CODE_DAYS:
        given(con, "staging.refinements", code_refinements(day))
    for day in CODE_DAYS:
        build_training_examples(con, day, get_settings())
