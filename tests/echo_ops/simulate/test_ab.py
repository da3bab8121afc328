"""The simulator serving real (tiny) models: same seed same bytes, and the A/B of two
registry models on one simulated day (echo_ops.simulate.ab)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from echo_ops.config import Settings, get_settings
from echo_ops.registry import register_model, set_champion
from echo_ops.simulate import simulate_days
from echo_ops.simulate.ab import ab_models, acceptance_ab, two_proportions
from echo_ops.warehouse import open_warehouse

DAY = date(2026, 11, 2)
SMALL_DAY = {"users": 1, "sessions_per_user": 1, "files_per_session": 4, "max_file_lines": 80}


@pytest.fixture(scope="module")
def tiny_other(tmp_path_factory) -> Path:
    """A second tiny base model: same recipe, another seed, so it proposes differently."""
    from echo_ops.bootstrap import bootstrap_model

    root = tmp_path_factory.mktemp("tiny-other")
    bootstrap_model("tiny", root / "model", settings=Settings(data_root=root, train={"seed": 99}))
    return root / "model"


def _permissive(**simulate) -> Settings:
    """Show every non-empty proposal, so the tiny models' proposals reach the people."""
    return Settings(
        simulate={**SMALL_DAY, "show_min_prob": 0.0, **simulate},
        train={"device": "cpu", "token_min_prob": 0.0, "max_new_tokens": 12},
    )


def _register(a: Path, b: Path) -> None:
    with open_warehouse(get_settings()) as con:
        register_model(con, a, kind="bootstrap", model_id="before", settings=get_settings())
        set_champion(con, "before", "first")
        register_model(con, b, kind="fine_tune", model_id="after", settings=get_settings())
        set_champion(con, "after", "promoted")


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_model_proposer_simulation_is_deterministic(tiny_base, tmp_path):
    with open_warehouse(get_settings()) as con:
        register_model(con, tiny_base, kind="bootstrap", model_id="base", settings=get_settings())
        set_champion(con, "base", "first")
    digests = []
    for run in ("one", "two"):
        settings = _permissive()
        settings.storage.truth_dir = tmp_path / run / "truth"
        out = simulate_days(DAY, 1, proposer="model", landing_uri=str(tmp_path / run / "landing"),
                            workers=1, settings=settings)  # fmt: skip
        assert out["completions_shown"] > 0, "the permissive gate should show proposals"
        digests.append(_digest(tmp_path / run))
    assert digests[0] == digests[1]


def test_ab_of_two_real_models_gives_sane_numbers(tiny_base, tiny_other):
    _register(tiny_base, tiny_other)
    settings = _permissive()
    assert ab_models(settings) == ("before", "after")
    result = acceptance_ab(DAY, users=1, workers=1, settings=settings)
    a, b = result["a"], result["b"]
    assert (a["model_id"], b["model_id"]) == ("before", "after")
    for arm in (a, b):
        assert arm["requests"] > 0 and 0 <= arm["shown"] <= arm["requests"]
        assert 0 <= arm["accepted"] <= arm["shown"]
        assert 0.0 <= arm["acceptance_rate"] <= 1.0
    assert a["shown"] + b["shown"] > 0, "the permissive gate should show some proposals"
    assert abs(a["requests"] - b["requests"]) <= 0.2 * a["requests"]  # same documents
    test = result["acceptance"]
    rate = lambda arm: arm["accepted"] / arm["shown"] if arm["shown"] else 0.0  # noqa: E731
    assert test["diff"] == pytest.approx(rate(b) - rate(a))
    assert test["ci_low"] <= test["diff"] <= test["ci_high"] and 0.0 <= test["p_value"] <= 1.0
    # the same day and people: both arms land in their own landing zones
    assert (
        Path(a["landing"]).is_dir() and Path(b["landing"]).is_dir() and a["landing"] != b["landing"]
    )


def test_ab_of_a_model_against_itself_shows_no_change(tiny_base, tiny_other):
    _register(tiny_base, tiny_other)
    result = acceptance_ab(DAY, model_a="before", model_b="before", users=1, workers=1,
                           settings=_permissive())  # fmt: skip
    a, b = result["a"], result["b"]
    assert (a["requests"], a["shown"], a["accepted"]) == (b["requests"], b["shown"], b["accepted"])
    assert result["acceptance"]["diff"] == 0.0 and result["acceptance"]["p_value"] == 1.0
    assert result["acceptance"]["verdict"].startswith("no measurable change")


def test_ab_needs_an_earlier_champion(tiny_base):
    with open_warehouse(get_settings()) as con:
        register_model(con, tiny_base, kind="bootstrap", model_id="only", settings=get_settings())
        set_champion(con, "only", "first")
    with pytest.raises(Exception, match="needs a champion and an earlier one"):
        ab_models(get_settings())


def test_two_proportions_matches_newcombes_worked_example():
    # Newcombe (1998), example (a): 56/70 vs 48/80, difference 0.2000, 95% CI 0.0524-0.3339
    test = two_proportions(48, 80, 56, 70)
    assert test["diff"] == pytest.approx(0.2)
    assert (test["ci_low"], test["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert test["p_value"] < 0.01
    none = two_proportions(0, 0, 0, 0)
    assert (none["ci_low"], none["ci_high"], none["p_value"]) == (-1.0, 1.0, 1.0)


def test_cli_prints_both_arms_and_skips_without_a_promotion(
    tiny_base, tiny_other, monkeypatch, capsys
):
    from echo_ops.cli import main
    from echo_ops.config import reset_settings_cache

    for key, value in {"SIMULATE__USERS": "1", "SIMULATE__SESSIONS_PER_USER": "1",
                       "SIMULATE__FILES_PER_SESSION": "4", "SIMULATE__MAX_FILE_LINES": "80",
                       "SIMULATE__SHOW_MIN_PROB": "0", "TRAIN__TOKEN_MIN_PROB": "0",
                       "TRAIN__MAX_NEW_TOKENS": "12", "TRAIN__DEVICE": "cpu"}.items():  # fmt: skip
        monkeypatch.setenv(f"ECHO_{key}", value)
    reset_settings_cache()
    args = ["simulate-ab", "--ds", DAY.isoformat(), "--users", "1", "--workers", "1"]
    assert main([*args, "--if-promoted"]) == 0
    assert "needs a champion and an earlier one" in capsys.readouterr().out
    _register(tiny_base, tiny_other)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "accepted / shown" in out and "accepted / request" in out
    assert "before" in out and "after" in out and "acceptance " in out


def test_people_served_together_get_what_each_gets_alone(tiny_base, tmp_path):
    """simulate.batch_people only changes how many people one model batch serves: the
    landing and truth bytes are those of serving one person at a time, and re-runs match."""
    with open_warehouse(get_settings()) as con:
        register_model(con, tiny_base, kind="bootstrap", model_id="base", settings=get_settings())
        set_champion(con, "base", "first")
    import torch

    digests, threads = [], torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for run, batch in (("alone", 1), ("together", 3), ("again", 3)):
            settings = _permissive(users=3, batch_people=batch)
            settings.storage.truth_dir = tmp_path / run / "truth"
            out = simulate_days(DAY, 1, proposer="model", workers=1, settings=settings,
                                landing_uri=str(tmp_path / run / "landing"))  # fmt: skip
            assert out["completions_shown"] > 0
            digests.append(_digest(tmp_path / run))
            # served in this process on one thread, then the process's setting is back
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert digests[0] == digests[1] == digests[2]
