"""Model-backed completions: `propose(prefix, suffix) -> (text, token_logprobs)`.

The simulator's pluggable proposer (branch `sim`, its `Proposer` protocol) and evaluation
both call this; the prompt is the one FIM format of `echo_ops.prompt`. Usage:

    proposer = ModelProposer("/path/to/hf-model-dir")      # or champion_proposer()
    text, logprobs = proposer.propose("def add(a, b):\n    return ", "\n")

Greedy decoding, stops at <eos> or `max_new_tokens`; `logprobs[i]` is the model's log
probability of the i-th generated token (the simulator gates on their geometric mean).
`proposer.model_version` is the registry model id (for the server log).
"""

from __future__ import annotations

from pathlib import Path

from echo_ops.config import Settings, get_settings
from echo_ops.prompt import encode_fim


class ModelProposer:
    """A loaded model and tokenizer; load once, call `propose` many times."""

    def __init__(self, model_dir: Path | str, device: str = "auto", max_new_tokens: int = 48,
                 model_version: str | None = None):  # fmt: skip
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model_dir, self.device, self.max_new_tokens = Path(model_dir), device, max_new_tokens
        self.model_version = model_version or self.model_dir.name  # what server logs record
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_dir).to(device).eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_prompt_tokens = max(8, min(limit, 4096) - max_new_tokens)

    def propose(self, prefix: str, suffix: str) -> tuple[str, list[float]]:
        """Greedy fill-in-the-middle completion between `prefix` and `suffix`."""
        import torch

        enc = encode_fim(self.tokenizer, prefix, suffix, None, self.max_prompt_tokens)
        ids = torch.tensor([enc.input_ids], device=self.device)
        eos = self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.max_new_tokens,
                do_sample=False, eos_token_id=eos, pad_token_id=self.tokenizer.pad_token_id or eos,
                output_scores=True, return_dict_in_generate=True,
            )  # fmt: skip
            scores = self.model.compute_transition_scores(
                out.sequences, out.scores, normalize_logits=True
            )
        new = out.sequences[0, ids.shape[1] :].tolist()
        logprobs = scores[0].tolist()
        if eos in new:
            cut = new.index(eos)
            new, logprobs = new[:cut], logprobs[:cut]
        n = self._blank_line_cut(new)
        text = self.tokenizer.decode(new[:n], skip_special_tokens=True)
        if not text.strip():
            return "", []  # whitespace is no proposal (an editor would not show it)
        return text, [float(x) for x in logprobs[:n]]

    def _blank_line_cut(self, new: list[int]) -> int:
        """Tokens up to the first blank line after some code: a completion ends where the
        block does, and small models otherwise run on with filler."""
        for n in range(1, len(new) + 1):
            text = self.tokenizer.decode(new[:n], skip_special_tokens=True)
            start = len(text) - len(text.lstrip())
            if "\n\n" in text[start:]:
                return n - 1 if n > 1 else n
        return len(new)


def champion_proposer(settings: Settings | None = None) -> ModelProposer:
    """A proposer serving the registry's current champion."""
    from echo_ops.registry import champion, fetch_model_dir
    from echo_ops.warehouse import open_warehouse

    settings = settings or get_settings()
    with open_warehouse(read_only=False, settings=settings) as con:
        record = champion(con)
    if record is None:
        raise LookupError("no champion in the registry: run `echo-ops bootstrap-model` first")
    return ModelProposer(
        fetch_model_dir(record),
        settings.train.device,
        settings.train.max_new_tokens,
        record.model_id,
    )
