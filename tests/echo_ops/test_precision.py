"""bf16 autocast only where the device computes bf16 natively (echo_ops.precision)."""

from __future__ import annotations

import torch

from echo_ops.precision import bf16_autocast, cpu_has_native_bf16, uses_bf16


def test_autocast_follows_the_wish_and_the_hardware():
    layer = torch.nn.Linear(8, 8)
    x = torch.randn(2, 8)
    with bf16_autocast("cpu", True, cpu=True):
        on = layer(x).dtype
    with bf16_autocast("cpu", True, cpu=False):
        off = layer(x).dtype
    assert off == torch.float32
    # emulated bf16 is slower than fp32: on a CPU without AMX / AVX512-BF16 it stays off
    assert on == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert uses_bf16("cuda:0", True, cpu=False) and not uses_bf16("cuda", False, cpu=True)
    assert not uses_bf16("mps", True, cpu=True)


def test_training_in_bf16_learns_as_fp32_does(tiny_base, tmp_path):
    """Same seed, same steps: the bf16 loss ends near the fp32 one (weights stay fp32)."""
    from echo_ops.config import TrainSettings
    from echo_ops.train import Example, train

    examples = [Example("def add(a, b):\n    ", "\n", f"return a + b  # {i}\n") for i in range(64)]
    runs = {}
    for bf16 in (False, True):
        cfg = TrainSettings(max_steps=30, batch_size=4, seq_len=64, learning_rate=3e-3, cpu_bf16=bf16,
                            eval_every=30, checkpoint_every=30, warmup_steps=2)  # fmt: skip
        runs[bf16] = train(tiny_base, tmp_path / str(bf16), examples, examples[:8], cfg)
    for result in runs.values():
        assert result.curve[-1][1] < result.curve[0][1] * 0.8, "it learned"
    assert abs(runs[True].final_loss - runs[False].final_loss) < 0.1 * runs[False].final_loss
    # mixed precision: the saved weights are fp32, whatever the products were computed in
    from safetensors import safe_open

    with safe_open(str(runs[True].model_dir / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}


def test_pretraining_under_a_time_cap_buys_steps_with_bf16():
    from echo_ops.bootstrap import PRESETS, pretrain_settings
    from echo_ops.config import TrainSettings

    assert pretrain_settings(TrainSettings(), PRESETS["demo"]).cpu_bf16  # capped: on
    assert not pretrain_settings(TrainSettings(), PRESETS["tiny"]).cpu_bf16  # by steps: as set
    assert not TrainSettings().cpu_bf16  # fine-tunes: fp32 unless asked
    assert not pretrain_settings(TrainSettings(bf16=False), PRESETS["demo"]).cpu_bf16  # off
