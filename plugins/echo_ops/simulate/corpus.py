"""The code the simulated people write: real source files, planned into documents.

A `DocPlan` is one file as the person will leave it (`intended`), what the editor opens
(`initial`: the intended text without the blocks still to write, with a few junk lines
to delete and one identifier under an old name to rename), and the blocks to write.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from echo_ops.corpus import LANGUAGES, load_lines

_IDENT = re.compile(r"\b[a-z_][a-z0-9_]{3,}\b")
_NON_ASCII = (
    "# Ünïcödé: naïve café — vérifié ✓",
    "# 注意: 日本語のコメント 😀 (emoji outside the BMP)",
    "# Grüße, señor; ½ € 𝛑 ≈ 3.14159",
)
_JUNK = ('print("here")', "import pdb; pdb.set_trace()", "# XXX remove me", "breakpoint()")
_JUNK_OTHER = ("// XXX remove me", "// TODO: delete this line")
_HASH_COMMENTS = {"python", "ruby"}


@dataclass
class DocPlan:
    relpath: str
    eol: str
    lines: list[str]  # intended lines
    holes: list[tuple[int, int]]  # (first line, count) the person writes, ascending
    junk: list[int]  # a junk line sits right before these intended lines
    rename: tuple[str, str] | None  # (intended name, old name in the opened text)
    secrets: list[dict] = field(default_factory=list)
    language_id: str = "python"

    @property
    def intended(self) -> str:
        return self.eol.join(self.lines)

    def initial(self) -> str:
        holed = {i for h, c in self.holes for i in range(h, h + c)}
        junk, out = set(self.junk), []
        for i, line in enumerate(self.lines):
            if i in junk:
                junk_lines = _JUNK if self.language_id == "python" else _JUNK_OTHER
                out.append(_indent(line) + junk_lines[i % len(junk_lines)])
            if i not in holed:
                out.append(_rename(line, self.rename))
        return self.eol.join(out)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def _rename(line: str, rename: tuple[str, str] | None) -> str:
    return re.sub(rf"\b{rename[0]}\b", rename[1], line) if rename else line


def plan_document(
    path: Path,
    root: Path,
    rng: random.Random,
    max_lines: int,
    hole_share: float,
    crlf_share: float,
    non_ascii_rate: float,
    secret: dict | None,
) -> DocPlan | None:
    """Cut a window of the file and decide what the person writes; None if unusable."""
    lines = load_lines(path)
    if not lines or len(lines) < 12:
        return None
    language = LANGUAGES.get(path.suffix, "plaintext")
    start = rng.randrange(max(1, len(lines) - max_lines + 1))
    lines = list(lines[start : start + max_lines])
    holes = pick_holes(len(lines), hole_share, rng)
    if not holes:
        return None
    return finish_plan(
        path.relative_to(root).as_posix(), lines, holes, rng, crlf_share, non_ascii_rate,
        secret, language,
    )  # fmt: skip


def finish_plan(
    relpath: str, lines: list[str], holes: list[tuple[int, int]], rng: random.Random,
    crlf_share: float, non_ascii_rate: float, secret: dict | None, language: str,
    plant_tag: str = "",
) -> DocPlan:  # fmt: skip
    """Planted lines (non-ASCII comments, a secret) in the blocks, junk lines and a rename.
    `plant_tag` ends each planted comment: a repository's day passes its own, so a file
    revisited on another day never gets the same planted line typed twice."""
    hashes = language in _HASH_COMMENTS

    def comment(line: str) -> str:  # our planted lines are written with '#' comments
        return line if hashes or not line.startswith("# ") else "//" + line[1:]

    lines = list(lines)
    for h, _c in reversed(holes):
        extra = []
        if rng.random() < non_ascii_rate:
            extra.append(_indent(lines[h]) + comment(rng.choice(_NON_ASCII)) + plant_tag)
        if secret is not None and h == holes[-1][0]:
            first, *rest = secret["lines"]  # a multi-line string's body starts at column 0
            extra.extend([_indent(lines[h]) + comment(first), *rest])
        lines[h:h] = extra
        holes = [
            (hh + len(extra) if hh > h else hh, cc + len(extra) if hh == h else cc)
            for hh, cc in holes
        ]
    plan = DocPlan(
        relpath,
        "\r\n" if rng.random() < crlf_share else "\n",
        lines,
        holes,
        [],
        None,
        language_id=language,
    )
    plan.junk = _pick_junk(plan, rng)
    plan.rename = _pick_rename(plan, rng)
    if secret is not None:
        plan.secrets = [
            {"kind": k, "value": v.replace("\n", plan.eol)} for k, v in secret["values"]
        ]
    return plan


def pick_holes(n: int, share: float, rng: random.Random) -> list[tuple[int, int]]:
    holes, i, budget = [], 2, max(2, int(n * share))
    while i < n - 1 and budget > 0:
        i += rng.randint(1, max(2, int(6 / max(share, 0.05))))
        c = min(rng.randint(2, 10), budget, n - 1 - i)
        if c >= 1 and i < n - 1:
            holes.append((i, c))
            budget -= c
            i += c + 1  # at least one kept line between blocks
    return holes


def _pick_junk(plan: DocPlan, rng: random.Random) -> list[int]:
    near = {i for h, c in plan.holes for i in range(h, h + c + 1)}
    free = [i for i in range(1, len(plan.lines)) if i not in near]
    return sorted(rng.sample(free, min(len(free), rng.randint(0, 2))))


def _pick_rename(plan: DocPlan, rng: random.Random) -> tuple[str, str] | None:
    holed = {i for h, c in plan.holes for i in range(h, h + c)}
    kept = [line for i, line in enumerate(plan.lines) if i not in holed]
    counts: dict[str, int] = {}
    for line in kept:
        if not line.lstrip().startswith("#"):
            for name in _IDENT.findall(line):
                counts[name] = counts.get(name, 0) + 1
    names = sorted(
        n
        for n, c in counts.items()
        if c >= 2
        and n not in {"self", "return", "import", "from", "def", "class", "None", "True", "False"}
    )
    if not names or rng.random() < 0.4:
        return None
    name = rng.choice(names)
    old = name + "_old"
    return (name, old) if old not in plan.intended else None


def make_secret(rng: random.Random) -> dict:
    """A realistic fake credential or e-mail line: {'lines': [...], 'values': [(kind, value)]}."""
    up, alnum = (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    )
    pick = lambda chars, n: "".join(rng.choice(chars) for _ in range(n))  # noqa: E731
    kind = rng.choice(("aws_access_key", "github_token", "private_key", "password", "email"))
    if kind == "aws_access_key":
        v = "AKIA" + pick(up, 16)
        return {"lines": [f'aws_access_key_id = "{v}"'], "values": [(kind, v)]}
    if kind == "github_token":
        v = "ghp_" + pick(alnum, 36)
        return {"lines": [f'GITHUB_TOKEN = "{v}"'], "values": [(kind, v)]}
    if kind == "private_key":
        body = [pick(alnum + "+/", 64) for _ in range(3)]
        block = ["-----BEGIN RSA PRIVATE KEY-----", *body, "-----END RSA PRIVATE KEY-----"]
        return {
            "lines": ['DEPLOY_KEY = """' + block[0], *block[1:-1], block[-1] + '"""'],
            "values": [(kind, "\n".join(block))],
        }
    if kind == "password":
        pw = pick(alnum, 14)
        url = f"postgresql://svc_app:{pw}@db.internal.example:5432/app"
        return {"lines": [f'DATABASE_URL = "{url}"'], "values": [(kind, url)]}
    first, last = (
        rng.choice(("jane", "omar", "li", "ana")),
        rng.choice(("doe", "silva", "nakamura", "kowalski")),
    )
    v = f"{first}.{last}@example.com"
    return {"lines": [f"# maintainer: {v}"], "values": [("email", v)]}
