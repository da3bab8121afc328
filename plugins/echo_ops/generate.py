"""Model-backed completions: `propose(prefix, suffix) -> (text, token_logprobs)`.

The simulator's pluggable proposer (`echo_ops.simulate.proposers.Proposer`) and evaluation
both call this; the prompt is the one FIM format of `echo_ops.prompt`. Usage:

    proposer = ModelProposer("/path/to/hf-model-dir")      # or champion_proposer()
    text, logprobs = proposer.propose("def add(a, b):\n    return ", "\n")
    answers = proposer.propose_many([(prefix, suffix), ...])  # one batch, same answers

The model is asked for the cursor's whole line (`prompt.align_to_lines`): the prompt ends
at the start of that line, the text typed on it goes into the prompt up to its last word
(`split_typed`), and the last word is forced one token at a time among the tokens that
agree with it (token healing). That is the shape base models train on,
and the model picks its own tokens across the cursor: after auto-indent or a space it is
not stuck with a whitespace token it never saw before code. Then greedy decoding on the
KV cache (`cache=`, transformers 5), stopping where editors stop:
- a mid-line cursor gets a single-line proposal (generation ends at the line break), less
  what already follows the cursor on its line (an auto-inserted closer);
- a cursor at a line start (only indentation before it on its line) gets up to
  `max_lines` lines, ending at a blank line after some code or at a dedent below the
  first line's indentation;
- always at <eos>, at `max_new_tokens`, and at the first token whose probability is
  below `token_min_prob`: only the confident prefix is kept, as completion servers do.
`logprobs[i]` is the model's log probability of the i-th kept token (every token that
put at least one character into `text`; for the one that crosses the cursor, given that
it agrees with the typed text); the simulator gates on their geometric mean.
Token healing assumes tokens that decode on their own (byte-level BPE, as ours and most
code models have); a cursor no token agrees with gets no proposal.
`proposer.model_version` is the registry model id (for the server log).
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from echo_ops.config import Settings
from echo_ops.precision import bf16_autocast
from echo_ops.prompt import Aligned, align_to_lines, encode_fim


class ModelProposer:
    """A loaded model and tokenizer; load once, call `propose` many times."""

    def __init__(self, model_dir: Path | str, device: str = "auto", max_new_tokens: int = 48,
                 model_version: str | None = None, token_min_prob: float = 0.0,
                 max_lines: int = 4, memory=None, memory_weight: float = 0.0,
                 memory_max_order: int = 16, bf16: bool = False):  # fmt: skip
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model_dir, self.device, self.max_new_tokens = Path(model_dir), device, max_new_tokens
        self.model_version = model_version or self.model_dir.name  # what server logs record
        # bf16 autocast where the device computes it natively (echo_ops.precision); off when
        # serving: on this CPU it saved 8% of a request and changed 5 of 60 texts
        # (bench/proposer.py); decoding one token is too small a product to gain from it
        self.bf16 = bf16
        self.token_min_logprob = math.log(token_min_prob) if token_min_prob > 0 else -math.inf
        self.max_lines = max(1, max_lines)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_dir).to(device).eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_prompt_tokens = max(8, min(limit, 4096) - max_new_tokens)
        self._piece_texts: dict[str, list[tuple[int, str]]] | None = None
        # echo_ops.memory: the team's code (an index) mixed into each next-token choice
        self.memory, self.memory_weight = memory, memory_weight
        self.memory_max_order = memory_max_order

    def propose(self, prefix: str, suffix: str) -> tuple[str, list[float]]:
        """Greedy fill-in-the-middle completion between `prefix` and `suffix`."""
        return self.propose_many([(prefix, suffix)])[0]

    def propose_many(self, requests: list[tuple[str, str]]) -> list[tuple[str, list[float]]]:
        """`propose` for several (prefix, suffix) requests decoded as one batch: on a CPU
        a decode step costs about as much for 8 rows as for 1 (the weights are read once),
        so serving several people together is where the time goes down. A batch of one is
        exactly `propose`; in a larger batch a row may differ from its lone result in the
        last bits of a float (padding, other matrix shapes), never in the method."""
        prompts, rows = zip(*(self._prepare(*r) for r in requests), strict=True)
        self._greedy(list(prompts), list(rows))
        out = []
        for row in rows:
            text = row.done[len(row.typed) :] if row.ok else ""
            cut = editor_cut(text, row.mid_line, row.indent, self.max_lines)
            shown = _drop_line_rest(text[:cut], row.al.rest)
            if not shown.strip():
                out.append(("", []))  # whitespace is no proposal (an editor would not show it)
            else:
                out.append((shown, row.logprobs[: kept_tokens(row.ends, cut)]))
        return out

    def _prepare(self, prefix: str, suffix: str) -> tuple[list[int], _Row]:
        """The prompt's token ids (up to the typed line's last word) and the row to decode."""
        al = align_to_lines(prefix, suffix)
        settled, heal = split_typed(al.typed)
        settled_ids = self.tokenizer.encode(settled, add_special_tokens=False) if settled else []
        budget = self.max_prompt_tokens - len(settled_ids)
        prompt = encode_fim(self.tokenizer, al.head, al.tail, None, budget).input_ids
        indent = len(al.typed) - len(al.typed.lstrip())
        recall = self._recall(al.head, al.tail, settled_ids)
        return prompt + settled_ids, _Row(al, heal, bool(al.typed.strip()), indent, recall)

    def _recall(self, head: str, tail: str, settled_ids: list[int]):
        """(indexes, context) for the memory, or None when it is off: the team's index and
        one of this request's whole editor window (longer than the network's prompt)."""
        if self.memory is None or self.memory_weight <= 0:
            return None
        from echo_ops.memory import build_index

        enc = lambda t: self.tokenizer.encode(t, add_special_tokens=False) if t else []  # noqa: E731
        head_ids = enc(head)
        window = build_index([head_ids, enc(tail)], self.memory.min_match)
        return [self.memory, window], [*head_ids[-self.memory_max_order :], *settled_ids]

    def _greedy(self, prompts: list[list[int]], rows: list[_Row]) -> None:
        """Decode every row greedily on one KV cache (transformers 5: `cache`, was
        past_key_values), prompts left-padded to one length; a row that stops leaves the
        batch (`_Row.advance` says when)."""
        import torch

        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = pos = None  # no padding: the model's own positions, as for a lone request
        if any(len(p) < width for p in prompts):
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts],
                                device=self.device)  # fmt: skip
            pos = (mask.cumsum(1) - 1).clamp(min=0)
        live, past = list(range(len(rows))), None
        with torch.inference_mode(), self.autocast():
            while True:
                # only the last position's logits are read: the prompt skips the LM head
                out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                                 cache=past, use_cache=True, logits_to_keep=1)  # fmt: skip
                past = out.cache
                logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
                nxt = [(j, rows[i].advance(self, logp[j])) for j, i in enumerate(live)]
                keep = [j for j, tok in nxt if tok is not None]
                if not keep:
                    break
                if len(keep) < len(live):
                    past.batch_select_indices(torch.tensor(keep, device=self.device))
                    mask = None if mask is None else mask[keep]
                    pos = None if pos is None else pos[keep]
                live = [live[j] for j in keep]
                ids = torch.tensor([[tok] for _, tok in nxt if tok is not None], device=self.device)
                if mask is not None:
                    mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
                    pos = pos[:, -1:] + 1

    def autocast(self):
        """A fresh context per call: torch.autocast keeps state while entered (threads)."""
        return bf16_autocast(self.device, self.bf16, self.bf16)

    def _next_token(self, row: _Row, logp) -> tuple[int, float] | None:
        """The greedy token for `row` and its log-prob; while still on what the person
        typed, only among tokens that agree with it (None: no token does)."""
        import torch

        if row.recall is not None:
            logp = self._mixed(logp, *row.recall)
        todo = row.typed[len(row.done) :]
        if not todo:
            best = int(logp.argmax())
            return best, float(logp[best])
        allowed = self._agreeing(todo)
        if allowed is None:
            return None
        sub = logp[allowed]
        k = int(sub.argmax())
        return int(allowed[k]), float(sub[k] - torch.logsumexp(sub, 0))

    def _mixed(self, logp, indexes, context: list[int]):
        from echo_ops.memory import continuations, mix

        hits = [continuations(ix, context, self.memory_max_order) for ix in indexes]
        return mix(logp, hits, self.memory_weight)

    def _agreeing(self, todo: str):
        """Ids of the tokens whose text starts with `todo` or is a start of it; None if none."""
        import torch

        # both ways of agreeing need the same first character: scan only those tokens
        pieces = self._pieces().get(todo[0], ())
        hits = [i for i, p in pieces if p.startswith(todo) or todo.startswith(p)]
        return torch.tensor(hits, device=self.device) if hits else None

    def _pieces(self) -> dict[str, list[tuple[int, str]]]:
        """Each token's text on its own, by its first character, decoded once (special
        and empty tokens left out)."""
        if self._piece_texts is None:
            special = set(self.tokenizer.all_special_ids)
            by_first: dict[str, list[tuple[int, str]]] = {}
            for i in range(len(self.tokenizer)):
                text = "" if i in special else self.tokenizer.decode([i])
                if text:
                    by_first.setdefault(text[0], []).append((i, text))
            self._piece_texts = by_first
        return self._piece_texts


@dataclass
class _Row:
    """One request's decoding state: the text after `typed`, and for each token that
    added to it its log-prob and the text's length after it."""

    al: Aligned
    typed: str  # forced token by token (token healing), then free decoding
    mid_line: bool
    indent: int
    recall: list | None  # the memory's (indexes, context), or None
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    done: str = ""  # all text decoded so far, typed part included
    ok: bool = True  # False: no proposal (the typed text cannot be followed)

    def advance(self, proposer: ModelProposer, logp) -> int | None:
        """Take this step's token; the next input token, or None once the row stops: at
        <eos>, a token below the floor, a typed text no token follows, or once the
        editor's cut can no longer move."""
        picked = proposer._next_token(self, logp)
        if picked is None:
            self.ok = False
            return None
        best, lp = picked
        if best == proposer.tokenizer.eos_token_id and not self.typed[len(self.done) :]:
            return None
        text = proposer.tokenizer.decode([*self.ids, best], skip_special_tokens=True)
        adds = len(text) > len(self.typed)  # past what the person typed
        if adds and lp < proposer.token_min_logprob:
            return None
        self.ids.append(best)
        if self.recall is not None:
            self.recall[1].append(best)
        self.done = text
        if adds:
            self.logprobs.append(lp)
            self.ends.append(len(text) - len(self.typed))
            if len(self.logprobs) == proposer.max_new_tokens or _done(
                text[len(self.typed) :], self.mid_line, self.indent, proposer.max_lines
            ):
                return None
        elif not self.typed.startswith(text):  # bytes of one character split oddly
            self.ok = False
            return None
        if len(self.ids) == proposer.max_new_tokens + len(self.typed):
            return None
        return best


def split_typed(typed: str) -> tuple[str, str]:
    """(settled, heal): the typed text up to its last word, whose tokens are the ones the
    whole line would have (byte-level BPE splits before a space or a word), so they go
    into the prompt as they are; and the last word with the whitespace before it, which
    may merge with what comes next, so it is forced token by token."""
    cut = re.search(r"\s*\S*$", typed).start()
    return typed[:cut], typed[cut:]


def _drop_line_rest(text: str, rest: str) -> str:
    """A one-line proposal that ends with what already follows the cursor on its line (an
    auto-inserted closer, say) stops before it: the editor shows only the new part."""
    rest = rest.rstrip("\r\n")
    if rest.strip() and "\n" not in text and text.endswith(rest):
        return text[: len(text) - len(rest)]
    return text


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


@contextmanager
def torch_threads(n: int):
    """Run the block with torch on `n` threads, then give the process its setting back: a
    small model decodes faster on one thread per process, but a fine-tune later in the
    same process (the inline flywheel) must not train on one core."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def registry_model_dir(model_id: str | None, settings: Settings) -> tuple[str, Path]:
    """(model id, local HF directory) of `model_id`, or of the champion when None."""
    from echo_ops.registry import champion, fetch_model_dir, get_model
    from echo_ops.warehouse import open_warehouse

    with open_warehouse(settings) as con:
        record = champion(con) if model_id is None else get_model(con, model_id)
    if record is None:
        raise LookupError("no champion in the registry: run `echo-ops bootstrap-model` first")
    return record.model_id, fetch_model_dir(record, settings)


def champion_proposer(settings: Settings) -> ModelProposer:
    """A proposer serving the registry's current champion."""
    model_id, model_dir = registry_model_dir(None, settings)
    return model_proposer(model_dir, model_id, settings)


def model_proposer(
    model_dir: Path, model_id: str, settings: Settings, memory=None
) -> ModelProposer:
    """A proposer serving `model_dir` with the serving settings (train.*); `memory`: an
    `echo_ops.memory` index of the team's code, mixed in at `train.memory_weight`."""
    cfg = settings.train
    return ModelProposer(model_dir, cfg.device, cfg.max_new_tokens, model_id,
                         cfg.token_min_prob, cfg.max_proposal_lines, memory,
                         cfg.memory_weight, cfg.memory_max_order)  # fmt: skip
