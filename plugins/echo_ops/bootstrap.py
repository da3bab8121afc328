"""The embedded base model: a BPE tokenizer and a small Llama-style causal LM trained from
scratch on a code corpus found on every machine (this Python's standard library).

Nothing can be downloaded from a model hub here; any Hugging Face causal-LM directory
with FIM tokens can replace the result untouched (`echo-ops models register DIR`).
Pretraining uses the same `echo_ops.train.train` loop as fine-tuning.
"""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from echo_ops.config import Settings, TrainSettings
from echo_ops.corpus import corpus_texts, default_corpus
from echo_ops.logs import stage_run
from echo_ops.prompt import EOS, PAD, SPECIAL_TOKENS
from echo_ops.train import Example, TrainResult, train


@dataclass(frozen=True)
class Preset:
    vocab_size: int
    n_layer: int
    hidden: int
    n_head: int
    intermediate: int
    seq_len: int
    corpus_bytes: int  # how much of the corpus the tokenizer and pretraining read
    max_steps: int
    batch_size: int
    learning_rate: float
    max_train_seconds: float | None = None  # a wall-time cap, so a busy machine still finishes


PRESETS: dict[str, Preset] = {
    # seconds, for tests
    "tiny": Preset(512, 2, 64, 2, 172, 64, 120_000, 6, 4, 3e-3),
    # the demo: about 4M parameters, 10 minutes on 2 CPU cores; below ~700 steps people
    # take almost nothing it proposes (docs/models.md, docs/simulator.md)
    "demo": Preset(4096, 4, 256, 4, 688, 256, 8_000_000, 1200, 8, 2e-3, 600.0),
    # a GPU machine: about 98M parameters on the whole standard library
    "small": Preset(16384, 12, 768, 12, 2048, 1024, 400_000_000, 20_000, 32, 6e-4),
}


def corpus_fim_examples(
    texts: list[str], seed: int, chunk_chars: int, names: list[str] | None = None
):
    """Cut texts into chunks of whole lines and hide 1-4 lines of each as the FIM middle.

    Yields (name, Example); the same seed gives the same examples.
    """
    rng = random.Random(seed)
    for i, text in enumerate(texts):
        lines = text.splitlines(keepends=True)
        start = 0
        while start < len(lines):
            end, size = start, 0
            while end < len(lines) and size < chunk_chars:
                size += len(lines[end])
                end += 1
            chunk = lines[start:end]
            a = rng.randrange(len(chunk))
            b = min(len(chunk), a + rng.randint(1, 4))
            example = Example("".join(chunk[:a]), "".join(chunk[b:]), "".join(chunk[a:b]))
            yield (names[i] if names else str(i)), example
            start = end


def train_tokenizer(texts: list[str], vocab_size: int, out_dir: Path):
    """A byte-level BPE tokenizer (no unknown tokens) with our FIM markers as special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD)
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[2:]})
    fast.save_pretrained(out_dir)
    return fast


def init_model(tokenizer, preset: Preset, out_dir: Path, seed: int) -> int:
    """A randomly initialised Llama-architecture model saved as a HF directory; returns params."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=preset.hidden,
        intermediate_size=preset.intermediate,
        num_hidden_layers=preset.n_layer,
        num_attention_heads=preset.n_head,
        num_key_value_heads=preset.n_head,
        max_position_embeddings=preset.seq_len,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return sum(p.numel() for p in model.parameters())


def bootstrap_model(
    preset_name: str,
    out_dir: Path,
    *,
    settings: Settings,
    corpus_dir: Path | None = None,
    on_step=None,
) -> dict[str, Any]:
    """Train tokenizer + base model from scratch; write a HF directory to `out_dir`.

    Reads files only; writes `out_dir` and `out_dir.work` (checkpoints). A re-run
    retrains from scratch and replaces `out_dir`.
    """
    preset = PRESETS[preset_name]
    corpus_dir = Path(corpus_dir or settings.train.corpus_dir or default_corpus("base"))
    out_dir, work = Path(out_dir), Path(f"{out_dir}.work")
    with stage_run("bootstrap", preset=preset_name, corpus=corpus_dir) as counts:
        started = time.perf_counter()
        shutil.rmtree(work, ignore_errors=True)
        texts = [text for _, text in corpus_texts(corpus_dir, preset.corpus_bytes)]
        tokenizer = train_tokenizer(texts, preset.vocab_size, work / "init")
        n_params = init_model(tokenizer, preset, work / "init", settings.train.seed)
        cfg = pretrain_settings(settings.train, preset)
        examples = [
            ex for _, ex in corpus_fim_examples(texts, cfg.seed, chunk_chars=preset.seq_len * 3)
        ]
        split = max(1, len(examples) // 50)
        result: TrainResult = train(
            work / "init", work, examples[split:], examples[:split], cfg,
            loss_on_prompt=True, on_step=on_step,
        )  # fmt: skip
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.move(str(result.model_dir), out_dir)
        counts.update(files=len(texts), corpus_bytes=sum(len(t) for t in texts), params=n_params,
                      examples=len(examples), steps=result.steps, final_loss=result.final_loss,
                      eval_loss=result.eval_loss, tokens_per_s=result.tokens_per_s,
                      wall_s=time.perf_counter() - started)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
        return {**counts, "preset": asdict(preset), "preset_name": preset_name, "out_dir": str(out_dir),
                "corpus_dir": str(corpus_dir), "hardware": result.hardware}  # fmt: skip


def pretrain_settings(base: TrainSettings, preset: Preset) -> TrainSettings:
    """The fine-tune settings with the preset's size, steps and rate (resolved, saved)."""
    return base.model_copy(
        update={
            "seq_len": preset.seq_len,
            "max_steps": preset.max_steps,
            "batch_size": preset.batch_size,
            "learning_rate": preset.learning_rate,
            "warmup_steps": max(1, preset.max_steps // 20),
            "eval_every": max(1, preset.max_steps // 4),
            "checkpoint_every": max(1, preset.max_steps // 4),
            "lora": False,
            "max_train_seconds": preset.max_train_seconds,
            # under a wall-time cap, native bf16 buys steps (2x a step on this CPU);
            # train.bf16=false turns it off here too
            "cpu_bf16": base.cpu_bf16 or (base.bf16 and preset.max_train_seconds is not None),
        }
    )


def bootstrap_and_register(
    preset_name: str,
    settings: Settings,
    out_dir: Path | None = None,
    corpus_dir: Path | None = None,
    on_step=None,
) -> dict[str, Any]:
    """Bootstrap a base model and add it to the registry; it becomes champion if there is none.

    Writes `out_dir` (default `<data_root>/bootstrap/<preset>`), the artifact store and
    registry.models. A re-run adds a new base model (the champion stays unless there was none).
    """
    from echo_ops.registry import champion, register_model, set_champion
    from echo_ops.warehouse import open_warehouse

    out_dir = Path(out_dir or settings.data_root / "bootstrap" / preset_name)
    summary = bootstrap_model(
        preset_name, out_dir, settings=settings, corpus_dir=corpus_dir, on_step=on_step
    )
    metrics = {
        k: summary[k]
        for k in ("final_loss", "eval_loss", "tokens_per_s", "wall_s", "params", "steps")
    }
    config = {"preset": summary["preset"], "preset_name": preset_name, "corpus_dir": summary["corpus_dir"],
              "train": pretrain_settings(settings.train, PRESETS[preset_name]).model_dump(),
              "hardware": summary["hardware"]}  # fmt: skip
    with open_warehouse(settings) as con:
        model_id = register_model(
            con, out_dir, kind="bootstrap", metrics=metrics, config=config, settings=settings
        )
        if champion(con) is None:
            set_champion(
                con, model_id, f"first model: bootstrapped base ({preset_name} preset)", settings
            )
    return {**summary, "model_id": model_id}
