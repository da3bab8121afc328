"""The code corpora Echo reads: the base corpus (this Python's standard library) that the
embedded model pretrains on, and the deployment codebase the simulated team writes.

One home for finding source files, reading them, and skipping what nobody types by hand
(generated files, data tables): pretraining, the training set's base-corpus replay and the
simulator all use these functions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sysconfig
from functools import lru_cache
from pathlib import Path

from echo_ops.errors import DataError

DEPLOY_PACKAGE = "rich"  # an installed third-party package the base model never saw
# Source files a person types, by extension; comments start with '#' or '//'.
LANGUAGES = {
    ".py": "python",
    ".rb": "ruby",
    ".js": "javascript",
    ".ts": "typescript",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".rs": "rust",
    ".kt": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".cs": "csharp",
}
_GENERATED = re.compile(r"auto-?generated|generated (by|from)|do not edit", re.IGNORECASE)
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_WORD = re.compile(r"\b[A-Za-z_]\w*")  # a name or keyword; hex numbers (0x1f) are not
_TRAILING_COMMENT = re.compile(r"(#|//).*$")


class CorpusError(DataError):
    """The corpus directory is missing or holds no usable source file."""


def default_corpus(kind: str) -> Path:
    if kind == "base":
        return Path(sysconfig.get_paths()["stdlib"])
    spec = importlib.util.find_spec(DEPLOY_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(f"deployment corpus package {DEPLOY_PACKAGE!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=4)
def list_files(root: Path) -> tuple[Path, ...]:
    """Every source file under `root` a person would type (see LANGUAGES, `load_lines`),
    sorted: a stable split across days and users."""
    if not root.is_dir():
        raise CorpusError(f"corpus directory {root} does not exist")
    files = tuple(
        p
        for p in sorted(root.rglob("*"))
        if p.suffix in LANGUAGES
        and p.is_file()
        and 600 <= p.stat().st_size <= 200_000
        and "test" not in p.name
        and "site-packages" not in p.relative_to(root).parts
        and load_lines(p) is not None  # so a session never draws a file nobody types
    )
    if not files:
        raise CorpusError(
            f"no source file ({', '.join(LANGUAGES)}) of 600 B to 200 kB under {root} that"
            " a person would type (UTF-8, space-indented, not generated or data tables)"
        )
    return files


@lru_cache(maxsize=256)
def load_lines(path: Path) -> tuple[str, ...] | None:
    """The file's lines, trailing spaces trimmed; None for files a person would not type."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    lines = tuple(
        line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    )
    if any(line.startswith("\t") or "\t" in line or "\f" in line for line in lines):
        return None  # tab-indented files would need another indent model
    return None if generated_or_data(lines) else lines


def generated_or_data(lines: tuple[str, ...] | list[str]) -> bool:
    """A file nobody types by hand: marked as generated in a comment near its top, or mostly
    lines of literals only (no name outside strings and comments: unicode width tables,
    palettes, emoji maps, codec tables). People do not write these, and completions there
    are no signal."""
    head = lines[:10]
    if any(ln.lstrip().startswith(("#", "//")) and _GENERATED.search(ln) for ln in head):
        return True
    code = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "//"))]
    names = (_WORD.search(_TRAILING_COMMENT.sub("", _STRING.sub("", ln))) for ln in code)
    data = sum(1 for found in names if not found)
    return data > len(code) / 2


def corpus_texts(
    corpus_dir: Path, max_bytes: int, max_file_bytes: int = 120_000
) -> list[tuple[Path, str]]:
    """A deterministic, spread-out selection of *.py files totalling at most `max_bytes`,
    as (path, text), each file read once.

    Ordered by a hash of the relative path rather than alphabetically, so a small budget
    samples many packages instead of the first few; test suites and huge files are skipped,
    and so are generated and data files (codec tables, unicode data): they take a small
    model's capacity and teach it to propose `0x00a1` in ordinary code.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory not found: {corpus_dir}")
    candidates = [
        p for p in corpus_dir.rglob("*.py")
        if not ({"test", "tests", "site-packages", "idle_test"} & set(p.relative_to(corpus_dir).parts))
        and 0 < p.stat().st_size <= max_file_bytes
    ]  # fmt: skip
    candidates.sort(
        key=lambda p: hashlib.sha1(p.relative_to(corpus_dir).as_posix().encode()).hexdigest()
    )
    chosen, total = [], 0
    for path in candidates:
        size = path.stat().st_size
        if total + size > max_bytes:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a few stdlib files are latin-1 test data; not worth a codec guess
        if generated_or_data(text.splitlines()):
            continue
        chosen.append((path, text))
        total += size
    if not chosen:
        raise CorpusError(f"no usable *.py files under {corpus_dir}")
    return chosen
