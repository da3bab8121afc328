"""Training throughput: Echo's loop vs a plain Hugging Face Trainer, same model, same data.

Both train the demo-preset architecture (Llama, ~4M params, seq 256, batch 8) from the same
random init on the same packed FIM rows from the standard library, alternating runs so a
noisy neighbour hurts both alike. Default mode `finetune` trains on the FIM middle only,
as the fine-tune stage does; `--mode pretrain` trains on every token, as bootstrap does. Tokens/s = tokens per step / the lower-quartile step time
(first step of each run excluded), pooled over the rounds; the median ratio is printed too. Prints one JSON object as its last line.

    PYTHONPATH=plugins .venv/bin/python bench/train.py [--steps 12] [--rounds 2] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from echo_ops.bootstrap import (  # noqa: E402
    PRESETS,
    corpus_fim_examples,
    init_model,
    pretrain_settings,
    train_tokenizer,
)
from echo_ops.config import TrainSettings  # noqa: E402
from echo_ops.corpus import corpus_texts, default_corpus  # noqa: E402
from echo_ops.train import _pick_device, _rows, mfu, train  # noqa: E402


def _ours(
    init_dir: Path, work: Path, examples, cfg: TrainSettings, loss_on_prompt: bool
) -> list[float]:
    stamps: list[float] = []
    train(init_dir, work, examples, [], cfg, loss_on_prompt=loss_on_prompt,
          on_step=lambda step, total, loss: stamps.append(time.perf_counter()))  # fmt: skip
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _hf_trainer(init_dir: Path, work: Path, rows, cfg: TrainSettings, device: str) -> list[float]:
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    ids, labels, _ = rows
    data = [{"input_ids": ids[i], "labels": labels[i]} for i in range(ids.shape[0])]
    model = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32)
    args = TrainingArguments(
        output_dir=str(work), per_device_train_batch_size=cfg.batch_size, max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=cfg.warmup_steps,
        adam_beta2=0.95, max_grad_norm=cfg.grad_clip, weight_decay=cfg.weight_decay, optim="adamw_torch",
        logging_steps=10_000, save_strategy="no", report_to=[], use_cpu=device == "cpu",
        bf16=device == "cuda" and cfg.bf16, dataloader_num_workers=0, seed=cfg.seed, disable_tqdm=True,
    )  # fmt: skip
    Trainer(model=model, args=args, train_dataset=data, callbacks=[Clock()]).train()
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _p25(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=4)[0]


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    parser.add_argument(
        "--mode",
        default="finetune",
        choices=["finetune", "pretrain"],
        help="finetune: loss on the FIM middle only (the fine-tune stage); "
        "pretrain: loss on every token (bootstrap)",
    )
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # both loops get it (ours sets it on CPU anyway)
    device = _pick_device(args.device)
    preset = PRESETS[args.preset]
    cfg = pretrain_settings(TrainSettings(device=device), preset).model_copy(
        update={"max_steps": args.steps, "eval_every": 10**6, "checkpoint_every": 10**6}
    )
    with tempfile.TemporaryDirectory(prefix="echo-bench-") as tmp:
        tmp = Path(tmp)
        corpus = corpus_texts(default_corpus("base"), min(preset.corpus_bytes, 1_000_000))
        texts = [text for _, text in corpus]
        tokenizer = train_tokenizer(texts, preset.vocab_size, tmp / "init")
        n_params = init_model(tokenizer, preset, tmp / "init", cfg.seed)
        examples = [ex for _, ex in corpus_fim_examples(texts, cfg.seed, preset.seq_len * 3)]
        full = args.mode == "pretrain"
        rows = _rows(tokenizer, examples, cfg, loss_on_prompt=full)
        # One short untimed run of each first: the CPU allocator and oneDNN kernels take a few
        # steps to settle, and whichever loop ran first would otherwise pay for it alone.
        warm = cfg.model_copy(update={"max_steps": 3})
        _ours(tmp / "init", tmp / "warm-ours", examples, warm, full)
        _hf_trainer(tmp / "init", tmp / "warm-hf", rows, warm, device)
        ours, hf = [], []
        for r in range(args.rounds):
            ours += _ours(tmp / "init", tmp / f"ours{r}", examples, cfg, full)
            hf += _hf_trainer(tmp / "init", tmp / f"hf{r}", rows, cfg, device)
    # On a shared machine other people's jobs stretch random steps many times over; the
    # lower quartile of step times is what each loop does when it has the cores (timeit's
    # reasoning). The median-based figures are reported beside it.
    tokens_per_step = cfg.batch_size * cfg.seq_len
    ours_tps = tokens_per_step / _p25(ours)
    hf_tps = tokens_per_step / _p25(hf)
    median_ratio = statistics.median(hf) / statistics.median(ours)

    print(json.dumps({
        "bench": "train", "mode": args.mode, "device": device, "preset": args.preset, "params": n_params,
        "steps_per_run": args.steps, "rounds": args.rounds, "batch_size": cfg.batch_size,
        "seq_len": cfg.seq_len, "tokens_per_s": round(ours_tps, 1),
        "hf_trainer_tokens_per_s": round(hf_tps, 1), "ratio_vs_hf_trainer": round(ours_tps / hf_tps, 3),
        "ratio_vs_hf_trainer_median_steps": round(median_ratio, 3),
        "step_s": {"ours": [round(x, 3) for x in ours], "hf_trainer": [round(x, 3) for x in hf]},
        "mfu": mfu(n_params, ours_tps) if device == "cuda" else None, "torch": torch.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
