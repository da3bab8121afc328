"""The training loop on a tiny model, CPU: it learns, every weight moves, a crash resumes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from echo_ops.train import Example, train
from tests.kit import tiny_train_settings

REPO = Path(__file__).resolve().parents[2]


def _examples(n: int = 24) -> list[Example]:
    return [
        Example(
            f"def f{i}(x):\n    return ",
            f"\n\n\nprint(f{i}({i}))\n",
            f"x * {i} + {i % 3}",
            1.0 + (i % 2),
        )
        for i in range(n)
    ]


def _weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def test_a_few_steps_give_finite_falling_loss_and_move_every_weight(tiny_base, tmp_path):
    cfg = tiny_train_settings(max_steps=6)
    result = train(tiny_base, tmp_path / "run", _examples(), _examples(4), cfg)
    assert (
        result.steps == 6 and math.isfinite(result.final_loss) and math.isfinite(result.eval_loss)
    )
    assert result.tokens == 6 * cfg.batch_size * cfg.seq_len and result.tokens_per_s > 0
    before, after = _weights(tiny_base), _weights(result.model_dir)
    assert before.keys() == after.keys()
    unchanged = [k for k in before if (before[k] == after[k]).all()]
    assert unchanged == []
    # the saved directory is a plain HF model with its resolved config beside it
    assert json.loads((result.model_dir / "train_config.json").read_text())["max_steps"] == 6
    assert (result.model_dir / "tokenizer.json").is_file()


def test_loss_falls_when_repeating_one_batch(tiny_base, tmp_path):
    cfg = tiny_train_settings(
        max_steps=12, eval_every=100, checkpoint_every=100, learning_rate=1e-2
    )
    losses: list[float] = []
    train(
        tiny_base,
        tmp_path / "run",
        _examples(4),
        [],
        cfg,
        on_step=lambda s, n, loss: losses.append(loss),
    )
    assert losses[-1] < losses[0] * 0.8


def test_no_examples_is_a_clear_error(tiny_base, tmp_path):
    with pytest.raises(ValueError, match="no training rows"):
        train(tiny_base, tmp_path / "run", [], [], tiny_train_settings())


def test_crash_mid_run_then_resume_matches_an_uninterrupted_run(tiny_base, tmp_path):
    cfg = tiny_train_settings(max_steps=6, checkpoint_every=2)
    full = train(tiny_base, tmp_path / "full", _examples(), _examples(4), cfg)

    # the same run in a child process, SIGKILLed right after step 3 (last checkpoint: step 2)
    crashed = tmp_path / "crashed"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(REPO / "plugins")!r}); sys.path.insert(0, {str(REPO)!r})
        from tests.echo_ops.test_train import _examples
        from tests.kit import tiny_train_settings
        from echo_ops.train import train
        train({str(tiny_base)!r}, {str(crashed)!r}, _examples(), _examples(4),
              tiny_train_settings(max_steps=6, checkpoint_every=2), crash_after_step=3)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (crashed / "model").exists()
    assert sorted(p.name for p in (crashed / "checkpoints").iterdir()) == ["step-000002"]

    resumed = train(tiny_base, crashed, _examples(), _examples(4), cfg, resume=True)
    assert resumed.resumed_from == 2
    assert resumed.steps == full.steps == 6
    assert resumed.tokens == full.tokens
    assert resumed.final_loss == pytest.approx(full.final_loss, rel=1e-4)
    assert resumed.eval_loss == pytest.approx(full.eval_loss, rel=1e-4)


def test_lora_trains_adapters_and_saves_a_merged_plain_model(tiny_base, tmp_path):
    cfg = tiny_train_settings(max_steps=2, lora=True, lora_r=4, lora_alpha=8, learning_rate=5e-2)
    result = train(tiny_base, tmp_path / "run", _examples(8), [], cfg)
    before, after = _weights(tiny_base), _weights(result.model_dir)
    assert (
        before.keys() == after.keys()
    )  # merged: no adapter tensors left, loads as a plain HF model
    moved = [k for k in before if not (before[k] == after[k]).all()]
    assert moved and all("proj" in k for k in moved)  # only the adapted linear layers changed
    assert math.isfinite(result.final_loss)


def test_dpo_widens_the_margin_of_final_text_over_proposal(tiny_base, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from echo_ops.dpo import Pair, dpo_train, target_logprobs

    pairs = [Pair(f"def f{i}(x):\n    return ", "\n", f"x + {i}", f"None  # {i}") for i in range(4)]
    cfg = tiny_train_settings(dpo_steps=4, dpo_learning_rate=1e-2, dpo_beta=0.5)
    out = dpo_train(tiny_base, tmp_path / "dpo", pairs, cfg)
    tok = AutoTokenizer.from_pretrained(tiny_base)

    def margin(model_dir):
        model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        with torch.no_grad():
            c = target_logprobs(model, tok, pairs, "chosen", 64)
            r = target_logprobs(model, tok, pairs, "rejected", 64)
        return float((c - r).mean())

    assert out["last_loss"] < out["first_loss"]
    assert margin(tmp_path / "dpo") > margin(tiny_base) + 0.1


def test_time_budget_stops_early_with_a_usable_model(tiny_base, tmp_path):
    cfg = tiny_train_settings(max_steps=50, max_train_seconds=0.0)
    result = train(tiny_base, tmp_path / "run", _examples(), _examples(4), cfg)
    assert result.steps == 1 and math.isfinite(result.eval_loss)
    assert (result.model_dir / "model.safetensors").is_file()


def test_schedule_warms_up_then_decays_by_steps_or_time():
    from echo_ops.train import _lr_factor

    assert _lr_factor(0, 4, 100) == 0.25 and _lr_factor(3, 4, 100) == 1.0
    assert _lr_factor(4, 4, 100) == pytest.approx(1.0)
    assert _lr_factor(100, 4, 100) == pytest.approx(0.1)
    # half the steps but the whole time budget spent: already at the floor
    assert _lr_factor(52, 4, 100, time_spent=1.0) == pytest.approx(0.1)
    assert _lr_factor(52, 4, 100, time_spent=0.1) == pytest.approx(_lr_factor(52, 4, 100))
