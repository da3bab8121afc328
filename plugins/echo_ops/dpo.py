"""Optional preference step (DPO, Rafailov et al. 2023) after fine-tuning.

Pairs come from training.preference_pairs: the person's final text (chosen) over the
model's proposal (rejected), same FIM prompt. The reference is the model we start from,
frozen; the loss pushes the policy's log-ratio margin between chosen and rejected up:
`-log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))`. Off unless `train.dpo_steps > 0`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from echo_ops.config import TrainSettings
from echo_ops.prompt import IGNORE_INDEX, encode_fim, line_example

log = logging.getLogger("echo.dpo")


@dataclass(frozen=True)
class Pair:
    prefix: str
    suffix: str
    chosen: str
    rejected: str


def target_logprobs(model, tokenizer, pairs: list[Pair], side: str, seq_len: int):
    """Sum of log-probabilities of each pair's `chosen` or `rejected` text given its prompt."""
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded = [
        encode_fim(tokenizer, *line_example(p.prefix, p.suffix, getattr(p, side)), seq_len)
        for p in pairs
    ]
    width = max(len(e.input_ids) for e in encoded)
    x = torch.tensor([e.input_ids + [pad] * (width - len(e.input_ids)) for e in encoded])
    y = torch.tensor([e.labels + [IGNORE_INDEX] * (width - len(e.labels)) for e in encoded])
    x, y = x.to(next(model.parameters()).device), y.to(next(model.parameters()).device)
    logp = torch.log_softmax(model(input_ids=x).logits[:, :-1].float(), dim=-1)
    labels = y[:, 1:]
    mask = labels != IGNORE_INDEX
    picked = logp.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(dim=1)


def dpo_train(
    model_dir: Path, out_dir: Path, pairs: list[Pair], cfg: TrainSettings
) -> dict[str, Any]:
    """`cfg.dpo_steps` DPO steps from `model_dir` (also the frozen reference); writes a HF
    directory to `out_dir`. Returns the first and last loss and preference margin."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    policy = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).train()
    reference = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.dpo_learning_rate)
    history = []
    for step in range(cfg.dpo_steps):
        batch = [
            pairs[(step * cfg.batch_size + i) % len(pairs)]
            for i in range(min(cfg.batch_size, len(pairs)))
        ]
        with torch.no_grad():
            ref_c = target_logprobs(reference, tokenizer, batch, "chosen", cfg.seq_len)
            ref_r = target_logprobs(reference, tokenizer, batch, "rejected", cfg.seq_len)
        pol_c = target_logprobs(policy, tokenizer, batch, "chosen", cfg.seq_len)
        pol_r = target_logprobs(policy, tokenizer, batch, "rejected", cfg.seq_len)
        margin = (pol_c - ref_c) - (pol_r - ref_r)
        loss = -torch.nn.functional.logsigmoid(cfg.dpo_beta * margin).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append((loss.item(), margin.mean().item()))
        log.info("dpo step %d/%d loss %.4f margin %.4f", step + 1, cfg.dpo_steps, *history[-1])
    shutil.rmtree(out_dir, ignore_errors=True)
    policy.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (Path(out_dir) / "train_config.json").write_text(cfg.model_dump_json(indent=2))
    return {"dpo_steps": cfg.dpo_steps, "pairs": len(pairs), "first_loss": history[0][0],
            "last_loss": history[-1][0], "last_margin": history[-1][1]}  # fmt: skip
