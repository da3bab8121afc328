"""Model-backed completions: `propose(prefix, suffix) -> (text, token_logprobs)`.

The simulator's pluggable proposer (`echo_ops.simulate.proposers.Proposer`) and evaluation
both call this; the prompt is the one FIM format of `echo_ops.prompt`. Usage:

    proposer = ModelProposer("/path/to/hf-model-dir")      # or champion_proposer()
    text, logprobs = proposer.propose("def add(a, b):\n    return ", "\n")

Greedy decoding on the KV cache (`cache=`, transformers 5), one token at a time, stopping
where editors stop:
- a mid-line cursor gets a single-line proposal (generation ends at the line break);
- a cursor at a line start (only indentation before it on its line) gets up to
  `max_lines` lines, ending at a blank line after some code or at a dedent below the
  first line's indentation;
- always at <eos>, at `max_new_tokens`, and at the first token whose probability is
  below `token_min_prob`: only the confident prefix is kept, as completion servers do.
`logprobs[i]` is the model's log probability of the i-th kept token (every token that
put at least one character into `text`); the simulator gates on their geometric mean.
`proposer.model_version` is the registry model id (for the server log).
"""

from __future__ import annotations

import math
from pathlib import Path

from echo_ops.config import Settings, get_settings
from echo_ops.prompt import encode_fim


class ModelProposer:
    """A loaded model and tokenizer; load once, call `propose` many times."""

    def __init__(self, model_dir: Path | str, device: str = "auto", max_new_tokens: int = 48,
                 model_version: str | None = None, token_min_prob: float = 0.0,
                 max_lines: int = 4):  # fmt: skip
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model_dir, self.device, self.max_new_tokens = Path(model_dir), device, max_new_tokens
        self.model_version = model_version or self.model_dir.name  # what server logs record
        self.token_min_logprob = math.log(token_min_prob) if token_min_prob > 0 else -math.inf
        self.max_lines = max(1, max_lines)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_dir).to(device).eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_prompt_tokens = max(8, min(limit, 4096) - max_new_tokens)

    def propose(self, prefix: str, suffix: str) -> tuple[str, list[float]]:
        """Greedy fill-in-the-middle completion between `prefix` and `suffix`."""
        enc = encode_fim(self.tokenizer, prefix, suffix, None, self.max_prompt_tokens)
        line = prefix[prefix.rfind("\n") + 1 :]
        mid_line = bool(line.strip())
        indent = len(line) - len(line.lstrip())
        ids, logprobs, ends = self._greedy(enc.input_ids, mid_line, indent)
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cut = editor_cut(text, mid_line, indent, self.max_lines)
        if not text[:cut].strip():
            return "", []  # whitespace is no proposal (an editor would not show it)
        return text[:cut], logprobs[: kept_tokens(ends, cut)]

    def _greedy(
        self, prompt: list[int], mid_line: bool, indent: int
    ) -> tuple[list[int], list[float], list[int]]:
        """Generated ids, their log-probs and the decoded text length after each, stopping
        at <eos>, a token below the floor, or once the text is long enough to cut."""
        import torch

        eos, past = self.tokenizer.eos_token_id, None
        ids, logprobs, ends = [], [], []
        step = torch.tensor([prompt], device=self.device)
        with torch.inference_mode():
            for _ in range(self.max_new_tokens):
                out = self.model(input_ids=step, cache=past, use_cache=True)
                past = out.cache  # the KV cache (transformers 5: `cache`, was past_key_values)
                logp = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
                best = int(logp.argmax())
                if best == eos or float(logp[best]) < self.token_min_logprob:
                    break
                ids.append(best)
                logprobs.append(float(logp[best]))
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                ends.append(len(text))
                if _done(text, mid_line, indent, self.max_lines):
                    break
                step = torch.tensor([[best]], device=self.device)
        return ids, logprobs, ends


def kept_tokens(ends: list[int], cut: int) -> int:
    """How many generated tokens put a character into `text[:cut]`, given the decoded
    length after each token (`ends`): a token cut in the middle still counts."""
    return sum(1 for start in [0, *ends[:-1]] if start < cut)


def _done(text: str, mid_line: bool, indent: int, max_lines: int) -> bool:
    """Whether more tokens can no longer change where the editor cuts `text`."""
    if mid_line:
        return "\n" in text
    cut = editor_cut(text, mid_line, indent, max_lines)
    rest = text[cut:]
    return bool(rest.strip()) or rest.count("\n") >= 2  # next line started, or a blank one


def editor_cut(text: str, mid_line: bool, indent: int, max_lines: int) -> int:
    """How many characters of `text` an editor shows: up to the line break for a mid-line
    cursor; else up to a blank line after code, a dedent below the first code line, or
    `max_lines` code lines (`indent`: the cursor's column on its line)."""
    if mid_line:
        n = text.find("\n")
        return len(text) if n < 0 else len(text[:n].rstrip("\r"))
    base, n_code, pos, end = None, 0, 0, 0  # end: where the last kept line ends
    for i, line in enumerate(text.split("\n")):
        body = line.rstrip("\r")
        if not body.strip():
            if base is not None:
                return end  # a blank line after code ends the block
        else:
            width = len(body) - len(body.lstrip()) + (indent if i == 0 else 0)
            base = width if base is None else base
            if width < base or n_code == max_lines:
                return end
            n_code += 1
        end, pos = pos + len(body), pos + len(line) + 1
    return len(text)


def registry_model_dir(
    model_id: str | None = None, settings: Settings | None = None
) -> tuple[str, Path]:
    """(model id, local HF directory) of `model_id`, or of the champion when None."""
    from echo_ops.registry import champion, fetch_model_dir, get_model
    from echo_ops.warehouse import open_warehouse

    with open_warehouse(read_only=False, settings=settings or get_settings()) as con:
        record = champion(con) if model_id is None else get_model(con, model_id)
    if record is None:
        raise LookupError("no champion in the registry: run `echo-ops bootstrap-model` first")
    return record.model_id, fetch_model_dir(record)


def champion_proposer(settings: Settings | None = None) -> ModelProposer:
    """A proposer serving the registry's current champion."""
    model_id, model_dir = registry_model_dir(None, settings)
    return model_proposer(model_dir, model_id, settings)


def model_proposer(
    model_dir: Path, model_id: str, settings: Settings | None = None
) -> ModelProposer:
    """A proposer serving `model_dir` with the serving settings (train.*)."""
    cfg = (settings or get_settings()).train
    return ModelProposer(model_dir, cfg.device, cfg.max_new_tokens, model_id,
                         cfg.token_min_prob, cfg.max_proposal_lines)  # fmt: skip
