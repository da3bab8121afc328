"""Benchmark: milliseconds per model proposal on real editor prompts.

Prompts: the server log of one simulated person-day on the deployment codebase (fast
proposer, so the prompts are what the simulator's triggers give). Baseline, same run, same
model: the earlier serving loop, `model.generate` for `max_new_tokens` tokens with output
scores, then the text cut at the first blank line by decoding every prefix of the output.
Measured: `echo_ops.generate.ModelProposer` (KV-cache greedy loop with the editor stops),
without a token floor and with `train.token_min_prob`; then `propose_many` on batches of
`--batch` prompts (default `simulate.batch_people`, the people the simulator serves
together), against the lone loop with the floor, with how many texts came out the same.
One torch thread, as the simulator serves (one process per core).

    PYTHONPATH=plugins .venv/bin/python bench/proposer.py [--model DIR] [--prompts 60]

Default model: the registry's champion (ECHO_DATA_ROOT); with none it prints a skip. The
last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from echo_ops.config import Settings, get_settings  # noqa: E402
from echo_ops.generate import ModelProposer, registry_model_dir  # noqa: E402
from echo_ops.precision import uses_bf16  # noqa: E402
from echo_ops.prompt import encode_fim  # noqa: E402
from echo_ops.simulate import simulate_days  # noqa: E402
from echo_ops.simulate.proposers import Proposal, confidence  # noqa: E402


def _prompts(n: int) -> list[tuple[str, str]]:
    """(prefix, suffix) of the first n requests of one simulated person-day."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_root=Path(tmp), simulate={"users": 1})
        simulate_days(date(2026, 11, 2), 1, workers=1, settings=settings)
        out = []
        for path in sorted(Path(tmp, "landing", "server").rglob("*.jsonl.gz")):
            for line in gzip.open(path, "rt"):
                try:
                    prompt = json.loads(line)["prompt"]
                    out.append((prompt["prefix"], prompt["suffix"]))
                except (ValueError, KeyError, TypeError):
                    continue  # the transport's planted corrupt lines
        return out[:n]


def _baseline(p: ModelProposer, prefix: str, suffix: str) -> tuple[str, list[float]]:
    """The serving loop before the KV-cache rewrite (generate, then an O(n^2) cut)."""
    import torch

    enc = encode_fim(p.tokenizer, prefix, suffix, None, p.max_prompt_tokens)
    ids = torch.tensor([enc.input_ids])
    eos = p.tokenizer.eos_token_id
    with torch.no_grad():
        out = p.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=p.max_new_tokens,
            do_sample=False, eos_token_id=eos, pad_token_id=p.tokenizer.pad_token_id or eos,
            output_scores=True, return_dict_in_generate=True,
        )  # fmt: skip
        scores = p.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    new, logprobs = out.sequences[0, ids.shape[1] :].tolist(), scores[0].tolist()
    if eos in new:
        new, logprobs = new[: new.index(eos)], logprobs[: new.index(eos)]
    n = len(new)
    for k in range(1, len(new) + 1):
        text = p.tokenizer.decode(new[:k], skip_special_tokens=True)
        if "\n\n" in text.lstrip():
            n = max(k - 1, 1)
            break
    return p.tokenizer.decode(new[:n], skip_special_tokens=True), logprobs[:n]


def _time(fn, prompts, gate: float) -> dict:
    fn(*prompts[0])  # warm-up
    started = time.perf_counter()
    answers = [fn(prefix, suffix) for prefix, suffix in prompts]
    return _figures(answers, time.perf_counter() - started, gate)


def _time_batched(p: ModelProposer, prompts, gate: float, batch: int) -> tuple[dict, int, list]:
    """`_time`'s figures for `propose_many` over batches of `batch` prompts, how many of
    its texts are the lone `propose` text, and the texts."""
    p.propose_many(prompts[:batch])  # warm-up
    started, answers = time.perf_counter(), []
    for i in range(0, len(prompts), batch):
        answers += p.propose_many(prompts[i : i + batch])
    figures = _figures(answers, time.perf_counter() - started, gate)
    same = sum(t == p.propose(*q)[0] for (t, _), q in zip(answers, prompts, strict=True))
    return figures, same, [t for t, _ in answers]


def _figures(answers: list[tuple[str, list[float]]], seconds: float, gate: float) -> dict:
    """ms per proposal, how many pass the gate, mean characters of (text, logprobs) answers."""
    n = len(answers)
    shown = sum(confidence(Proposal(t, tuple(lp))) >= gate for t, lp in answers)
    chars = sum(len(t) for t, _ in answers)
    return {"ms_per_proposal": round(1000 * seconds / n, 1), "passes_gate": shown, "mean_chars": round(chars / n, 1)}  # fmt: skip


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="HF model dir (default: the champion)")
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--batch", type=int, default=None, help="requests decoded together")
    args = parser.parse_args()
    settings = get_settings()
    try:
        model_dir = Path(args.model) if args.model else registry_model_dir(None, settings)[1]
    except LookupError as exc:  # a fresh checkout: `make bench` before `make demo`
        print(json.dumps({"skipped": f"{exc} (or pass --model DIR)"}))
        return
    torch.set_num_threads(1)
    prompts = _prompts(args.prompts)
    cfg, gate = settings.train, settings.simulate.show_min_prob
    free = ModelProposer(model_dir, "cpu", cfg.max_new_tokens, max_lines=cfg.max_proposal_lines)
    floored = ModelProposer(model_dir, "cpu", cfg.max_new_tokens, None, cfg.token_min_prob,
                            cfg.max_proposal_lines)  # fmt: skip
    base = _time(lambda a, b: _baseline(free, a, b), prompts, gate)
    print(f"baseline (generate + cut): {base}", file=sys.stderr)
    new = _time(free.propose, prompts, gate)
    print(f"kv-cache loop, no floor:   {new}", file=sys.stderr)
    cut = _time(floored.propose, prompts, gate)
    print(f"kv-cache loop, floor {cfg.token_min_prob}: {cut}", file=sys.stderr)
    batch = args.batch or settings.simulate.batch_people
    batched, same, texts = _time_batched(floored, prompts, gate, batch)
    print(f"batches of {batch}, floor:     {batched} ({same} texts as alone)", file=sys.stderr)
    # bf16 autocast where this CPU computes it natively: what serving gave up (fp32 kept)
    mixed = ModelProposer(model_dir, "cpu", cfg.max_new_tokens, None, cfg.token_min_prob,
                          cfg.max_proposal_lines, bf16=True)  # fmt: skip
    bf16 = uses_bf16("cpu", True, cpu=True)
    batched_bf16, same_bf16, texts_bf16 = _time_batched(mixed, prompts, gate, batch)
    as_fp32 = sum(a == b for a, b in zip(texts, texts_bf16, strict=True))
    print(f"batches of {batch}, floor, bf16 {bf16}: {batched_bf16} ({same_bf16} texts as alone, "
          f"{as_fp32} as fp32)", file=sys.stderr)  # fmt: skip
    print(json.dumps({"model": model_dir.name, "prompts": len(prompts), "threads": 1,
                      "show_min_prob": gate, "token_min_prob": cfg.token_min_prob,
                      "baseline": base, "kv_cache": new, "kv_cache_floor": cut,
                      "speedup": round(base["ms_per_proposal"] / new["ms_per_proposal"], 2),
                      "speedup_floor": round(base["ms_per_proposal"] / cut["ms_per_proposal"], 2),
                      "batch": batch, "batched_floor": batched, "batched_same_text": same,
                      "batch_speedup": round(cut["ms_per_proposal"] / batched["ms_per_proposal"], 2),
                      "bf16_native": bf16, "batched_floor_bf16": batched_bf16,
                      "batched_bf16_same_text": same_bf16, "bf16_same_text_as_fp32": as_fp32,
                      "bf16_speedup": round(batched["ms_per_proposal"] / batched_bf16["ms_per_proposal"], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
