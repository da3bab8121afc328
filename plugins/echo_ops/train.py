"""The training loop: one function, read top to bottom (nanoGPT / nanochat style).

`train()` pretrains the base model (bootstrap) and fine-tunes candidates alike, on CPU
or CUDA: setup, data, optimizer and schedule, a loop with periodic evaluation and
resumable checkpoints, a final model directory. No module-level state: the CLI and
Airflow call the same function. `fine_tune()` (in `echo_ops.finetune`) wires it to the
warehouse and the registry.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from echo_ops.config import TrainSettings
from echo_ops.precision import bf16_autocast
from echo_ops.prompt import IGNORE_INDEX, encode_fim

log = logging.getLogger("echo.train")

# Peak dense bf16 FLOP/s per device, for MFU (vendor datasheets, no sparsity).
_PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


@dataclass(frozen=True)
class Example:
    prefix: str
    suffix: str
    target: str
    weight: float = 1.0


@dataclass
class TrainResult:
    model_dir: Path
    steps: int
    final_loss: float  # mean training loss of the last step
    eval_loss: float | None
    tokens: int  # tokens fed to the model, this run and any resumed part
    tokens_per_s: float  # over the steps this process ran (eval and checkpoints excluded)
    seconds: float
    resumed_from: int | None
    hardware: dict[str, Any] = field(default_factory=dict)
    mfu: float | None = None  # model FLOPs utilisation, CUDA only
    # [step, training loss, held-out loss or None] per step this process ran (the report's curve)
    curve: list[list] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "model_dir": str(self.model_dir)}


def train(
    init_dir: Path,
    out_dir: Path,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    cfg: TrainSettings,
    *,
    resume: bool = False,
    loss_on_prompt: bool = False,
    crash_after_step: int | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> TrainResult:
    """Train the model in `init_dir` on FIM examples; write `out_dir/model` (a HF directory).

    Checkpoints go to `out_dir/checkpoints`; `resume=True` continues from the last one and
    reaches the same step and (within float noise) the same loss as an uninterrupted run.
    `loss_on_prompt` trains on every token (pretraining) rather than the target only.
    `crash_after_step` kills the process with SIGKILL after that step (crash-resume tests).
    """
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # -- setup: device, precision, model (optionally LoRA), tokenizer
    out_dir, init_dir = Path(out_dir), Path(init_dir)
    device = _pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    if device == "cpu":
        # Trained weights drift into denormal floats, which x86 handles ~3x slower.
        torch.set_flush_denormal(True)
    autocast = bf16_autocast(device, cfg.bf16, cfg.cpu_bf16)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32)
    if cfg.lora:
        model = _wrap_lora(model, cfg)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]

    # -- data: FIM-encode, pack into rows of seq_len tokens with per-token loss weights
    prompt_w = 1.0 if loss_on_prompt else cfg.context_loss_weight
    train_rows = _rows(tokenizer, train_examples, cfg, prompt_w)
    # held-out loss stays comparable across runs: the target only (unless pretraining)
    eval_rows = (
        _rows(tokenizer, eval_examples, cfg, float(loss_on_prompt)) if eval_examples else None
    )
    if train_rows[0].shape[0] == 0:
        raise ValueError("no training rows: every example was empty")

    # -- optimizer and schedule: AdamW, linear warmup then cosine decay to 10%
    optimizer = torch.optim.AdamW(
        params, lr=cfg.learning_rate, betas=(0.9, 0.95), weight_decay=cfg.weight_decay, fused=True
    )

    def lr_at(s: int) -> float:
        # Under a wall-time budget the cosine follows whichever runs out first, steps or time,
        # so a run cut short by a busy machine still ends at a low learning rate.
        spent = (
            (time.perf_counter() - started) / cfg.max_train_seconds
            if cfg.max_train_seconds
            else 0.0
        )
        return cfg.learning_rate * _lr_factor(s, cfg.warmup_steps, cfg.max_steps, spent)

    body, head = _body_and_head(model)

    def loss_of(x, y, w):
        # The LM head runs only where a label is trained (the target, in fine-tuning): on
        # FIM rows that skips most of the vocab-sized matmul the prompt would cost.
        keep = y[:, 1:] != IGNORE_INDEX
        with autocast:
            if head is None:
                logits = model(input_ids=x).logits[:, :-1][keep]
            else:
                logits = head(body(input_ids=x).last_hidden_state[:, :-1][keep])
        ce = F.cross_entropy(logits.float(), y[:, 1:][keep], reduction="none")
        w = w[:, 1:][keep]
        return (ce * w).sum() / w.sum().clamp_min(1e-8)

    # -- resume: weights, optimizer and counters from the last checkpoint
    step, tokens, resumed_from = 0, 0, None
    ckpt = _last_checkpoint(out_dir) if resume else None
    if ckpt is not None:
        state = json.loads((ckpt / "state.json").read_text())
        model.load_state_dict(torch.load(ckpt / "model.pt", map_location=device))
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location=device))
        step, tokens, resumed_from = state["step"], state["tokens"], state["step"]
        log.info("resumed from %s at step %d", ckpt, step)

    # -- loop: one optimizer step = grad_accum micro-batches; one log line per step
    started, run_tokens, train_s, loss_val, eval_loss = time.perf_counter(), 0, 0.0, math.nan, None
    curve: list[list] = []
    model.train()
    while step < cfg.max_steps:
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        loss_sum = 0.0
        for micro in range(cfg.grad_accum):
            x, y, w = (t.to(device) for t in _batch(train_rows, step * cfg.grad_accum + micro, cfg))
            loss = loss_of(x, y, w) / cfg.grad_accum
            loss.backward()
            loss_sum += loss.item()
            run_tokens += x.numel()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step, loss_val = step + 1, loss_sum
        train_s += time.perf_counter() - t0
        tok_s = run_tokens / max(train_s, 1e-9)
        log.info(
            "step %d/%d loss %.4f lr %.2e tok/s %.0f",
            step,
            cfg.max_steps,
            loss_val,
            lr_at(step - 1),
            tok_s,
        )
        curve.append([step, round(loss_val, 4), None])
        if on_step:
            on_step(step, cfg.max_steps, loss_val)
        budget = cfg.max_train_seconds
        out_of_time = budget is not None and time.perf_counter() - started >= budget
        if eval_rows is not None and (
            step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time
        ):
            eval_loss = _evaluate(model, eval_rows, cfg, loss_of)
            log.info("step %d eval_loss %.4f", step, eval_loss)
            curve[-1][2] = round(eval_loss, 4)
        if step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
            _save_checkpoint(out_dir, step, tokens + run_tokens, model, optimizer, cfg)
        if crash_after_step is not None and step == crash_after_step:
            os.kill(os.getpid(), signal.SIGKILL)
        if out_of_time:
            log.warning(
                "time budget %.0f s spent at step %d/%d: stopping here", budget, step, cfg.max_steps
            )
            break

    # -- final model: a plain Hugging Face directory (LoRA merged in), config beside it
    model_dir = out_dir / "model"
    _save_final(model, tokenizer, model_dir, cfg)
    tok_s = run_tokens / max(train_s, 1e-9)
    return TrainResult(
        model_dir=model_dir, steps=step, final_loss=loss_val, eval_loss=eval_loss,
        tokens=tokens + run_tokens, tokens_per_s=tok_s, seconds=time.perf_counter() - started,
        resumed_from=resumed_from, hardware=_hardware(device), mfu=_mfu(model, tok_s, device),
        curve=curve,
    )  # fmt: skip


def _pick_device(wanted: str) -> str:
    import torch

    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device=cuda but no CUDA device is visible (CPU torch build?)")
    return wanted


def _wrap_lora(model, cfg: TrainSettings):
    from peft import LoraConfig, get_peft_model

    target = cfg.lora_target_modules
    targets = target if target == "all-linear" else [t.strip() for t in target.split(",")]
    lora = LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules=targets, task_type="CAUSAL_LM"
    )
    return get_peft_model(model, lora)


def _body_and_head(model):
    """(transformer body, LM head), or (model, None) where logits are more than head(hidden):
    models that soft-cap or scale their logits keep their own forward."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = inner.config
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return model, None
    body = getattr(inner, inner.base_model_prefix, None)
    head = inner.get_output_embeddings()
    if body is None or head is None:
        return model, None
    return body, head


def _lr_factor(step: int, warmup: int, total: int, time_spent: float = 0.0) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = max((step - warmup) / max(total - warmup, 1), time_spent)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _rows(tokenizer, examples: Sequence[Example], cfg: TrainSettings, prompt_weight: float):
    """(input_ids, labels, weights) tensors of shape [rows, seq_len].

    Prompt tokens (the code around the cursor) are trained at `prompt_weight` times the
    example's weight (0: the target only; 1: every token, pretraining).

    Packing concatenates examples (each ends with <eos>) and cuts full rows, so no
    compute goes to padding; without it each example is right-padded to its own row.
    """
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids, labels, weights = [], [], []
    for ex in examples:
        enc = encode_fim(
            tokenizer,
            ex.prefix,
            ex.suffix,
            ex.target,
            cfg.seq_len,
            loss_on_prompt=prompt_weight > 0,
        )
        fill = 0 if cfg.packing else cfg.seq_len - len(enc.input_ids)
        ids += enc.input_ids + [pad] * fill
        labels += enc.labels + [IGNORE_INDEX] * fill
        w = float(ex.weight)
        # weights[i] applies to labels[i], the token at i: the first target token sits at n_prompt
        weights += [w * prompt_weight] * enc.n_prompt + [w] * (len(enc.input_ids) - enc.n_prompt)
        weights += [0.0] * fill
    n = len(ids) // cfg.seq_len
    if cfg.packing and len(ids) % cfg.seq_len:
        n += 1  # keep the tail: pad the last row
        fill = n * cfg.seq_len - len(ids)
        ids, labels, weights = (
            ids + [pad] * fill,
            labels + [IGNORE_INDEX] * fill,
            weights + [0.0] * fill,
        )
    shape = (n, cfg.seq_len)
    return (
        torch.tensor(ids[: n * cfg.seq_len], dtype=torch.long).view(shape),
        torch.tensor(labels[: n * cfg.seq_len], dtype=torch.long).view(shape),
        torch.tensor(weights[: n * cfg.seq_len], dtype=torch.float32).view(shape),
    )


def _batch(rows, micro_index: int, cfg: TrainSettings):
    """Micro-batch number `micro_index`: a pure function of it and the seed, so a resumed
    run sees exactly the batches the crashed one would have seen."""
    import torch

    n, perms, picks = rows[0].shape[0], {}, []
    for i in range(micro_index * cfg.batch_size, (micro_index + 1) * cfg.batch_size):
        epoch, pos = divmod(i, n)
        if epoch not in perms:
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
            perms[epoch] = torch.randperm(n, generator=gen)
        picks.append(int(perms[epoch][pos]))
    idx = torch.tensor(picks)
    return rows[0][idx], rows[1][idx], rows[2][idx]


def _evaluate(model, rows, cfg: TrainSettings, loss_of) -> float:
    import torch

    model.eval()
    device = next(model.parameters()).device
    losses = []
    with torch.no_grad():
        for start in range(
            0, min(rows[0].shape[0], cfg.eval_batches * cfg.batch_size), cfg.batch_size
        ):
            x, y, w = (t[start : start + cfg.batch_size].to(device) for t in rows)
            losses.append(loss_of(x, y, w).item())
    model.train()
    return float(sum(losses) / max(len(losses), 1))


def _last_checkpoint(out_dir: Path) -> Path | None:
    found = sorted((out_dir / "checkpoints").glob("step-*"))
    return found[-1] if found else None


def _save_checkpoint(
    out_dir: Path, step: int, tokens: int, model, optimizer, cfg: TrainSettings
) -> None:
    """Write the checkpoint to a temp dir and rename it: a crash mid-write leaves the
    previous checkpoint intact. Keeps the last two."""
    import torch

    root = out_dir / "checkpoints"
    tmp, final = root / f".tmp-step-{step:06d}", root / f"step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(model.state_dict(), tmp / "model.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "tokens": tokens}))
    (tmp / "train_config.json").write_text(cfg.model_dump_json(indent=2))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(root.glob("step-*"))[:-2]:
        shutil.rmtree(old, ignore_errors=True)


def _save_final(model, tokenizer, model_dir: Path, cfg: TrainSettings) -> None:
    if cfg.lora:
        model = model.merge_and_unload()
    shutil.rmtree(model_dir, ignore_errors=True)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    (model_dir / "train_config.json").write_text(cfg.model_dump_json(indent=2))


def _hardware(device: str) -> dict[str, Any]:
    import platform

    import torch

    info = {"device": device, "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(), "machine": platform.machine()}  # fmt: skip
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _mfu(model, tokens_per_s: float, device: str) -> float | None:
    """6 * params FLOPs per token (forward + backward) over the GPU's dense bf16 peak."""
    if device != "cuda":
        return None
    return mfu(sum(p.numel() for p in model.parameters()), tokens_per_s)


def mfu(n_params: int, tokens_per_s: float) -> float | None:
    import torch

    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in _PEAK_FLOPS.items() if k in name), None)
    return None if peak is None else 6 * n_params * tokens_per_s / peak
