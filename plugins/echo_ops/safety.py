"""Secrets and personal data: find them and redact them before text reaches a training set.

Two layers: detect-secrets' maintained plugins (run line by line, in memory, with no
verification calls: nothing leaves the machine), plus Echo's own rules for what those
miss or only half-catch: AWS access keys, GitHub tokens, PEM private-key blocks that span
lines, passwords in connection strings, e-mail addresses. Redacted spans become
`<REDACTED:kind>`. Pure functions; safe to call any number of times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# detect-secrets plugins that fire on ordinary code far more than on secrets:
# public IPs (stdlib tests are full of them) and entropy scans of quoted strings
# (hashes, test vectors); our own rules and the keyword plugin cover what they would add.
_SKIPPED_PLUGINS = {"IPPublicDetector", "Base64HighEntropyString", "HexHighEntropyString"}

# A line only reaches detect-secrets if it could hold something a plugin matches:
# a long token-like run, a credential word, a URL userinfo or a key header. This keeps
# the per-line cost of ~25 plugin regexes off the vast majority of code lines.
_PREFILTER = re.compile(
    r"[A-Za-z0-9+/=_\-.]{16,}|@|BEGIN|pass|pwd|secret|token|auth|cred|api_?key|private",
    re.IGNORECASE,
)

# Echo's own rules: (kind, pattern, group to redact).
_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "private_key",
        # A block may be cut off by the end of a completion: redact to the end then.
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        0,
    ),
    (
        "private_key",
        # A completion can start inside a key block: no BEGIN, but an END line follows.
        re.compile(
            r"\A(?:(?!-----BEGIN).)*?-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----", re.DOTALL
        ),
        0,
    ),
    (
        "private_key",
        # ...or hold only body lines: a whole line of base64 this long is key material,
        # not code (the PEM body lines are 64 characters).
        re.compile(r"(?m)^[ \t]*[A-Za-z0-9+/]{40,}={0,2}[ \t]*$"),
        0,
    ),
    (
        "aws_access_key",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])"),
        0,
    ),
    (
        "aws_secret_key",
        re.compile(
            r"(?i)aws_?secret(?:_access)?_?key\W{0,4}([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        1,
    ),
    (
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
        0,
    ),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), 0),
    ("stripe_key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b"), 0),
    (
        "connection_password",
        # scheme://user:password@host ; placeholders like ":password@" are still redacted:
        # a template that says "password" costs nothing to mask.
        re.compile(
            r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@'\"<>]{1,64}:([^\s@'\"<>/]{1,128})@[\w.\-\[\]]"
        ),
        1,
    ),
    (
        "email",
        re.compile(
            r"(?<![\w.+\-:/%])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9\-]{1,63}\.)+[A-Za-z]{2,24}\b"
        ),
        0,
    ),
)

_DS_KIND = {
    "AWS Access Key": "aws_access_key",
    "GitHub Token": "github_token",
    "Private Key": "private_key",
    "Basic Auth Credentials": "connection_password",
    "Secret Keyword": "secret_assignment",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # aws_access_key | github_token | private_key | connection_password | email | ...
    start: int  # offset in the original text
    end: int


@dataclass(frozen=True)
class Redaction:
    text: str  # the text with every finding replaced by <REDACTED:kind>
    findings: list[Finding] = field(default_factory=list)


def redact_text(text: str) -> Redaction:
    """Find credentials and personal data in `text` and replace each with `<REDACTED:kind>`."""
    if not text:
        return Redaction(text or "", [])
    findings = _merge(_rule_findings(text) + _detect_secrets_findings(text))
    if not findings:
        return Redaction(text, [])
    parts, pos = [], 0
    for f in findings:
        parts.append(text[pos : f.start])
        parts.append(f"<REDACTED:{f.kind}>")
        pos = f.end
    parts.append(text[pos:])
    return Redaction("".join(parts), findings)


def find_secrets(text: str) -> list[Finding]:
    """The findings alone (no redaction), sorted by offset, overlaps merged."""
    return redact_text(text).findings


def _rule_findings(text: str) -> list[Finding]:
    found = []
    for kind, pattern, group in _RULES:
        for m in pattern.finditer(text):
            if m.group(group):
                found.append(Finding(kind, m.start(group), m.end(group)))
    return found


def _detect_secrets_findings(text: str) -> list[Finding]:
    found: list[Finding] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if _PREFILTER.search(line):
            for kind, value in _scan_line(line.rstrip("\r\n")):
                start = line.find(value)
                if start >= 0 and value:
                    found.append(Finding(kind, offset + start, offset + start + len(value)))
        offset += len(line)
    return found


def _scan_line(line: str) -> Iterable[tuple[str, str]]:
    from detect_secrets.filters.heuristic import (
        is_indirect_reference,
        is_potential_uuid,
        is_sequential_string,
        is_templated_secret,
    )

    for plugin in _plugins():
        # analyze_string only matches: no verification requests, no global settings.
        for value in plugin.analyze_string(line):
            if not value or is_sequential_string(value) or is_potential_uuid(value):
                continue
            if plugin.secret_type == "Secret Keyword" and (
                is_templated_secret(value) or is_indirect_reference(line) or len(value) < 6
            ):
                continue
            yield _DS_KIND.get(plugin.secret_type, _slug(plugin.secret_type)), value


@lru_cache(maxsize=1)
def _plugins() -> tuple:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes = get_mapping_from_secret_type_to_class().values()
    return tuple(
        cls()
        for cls in sorted(classes, key=lambda c: c.__name__)
        if cls.__name__ not in _SKIPPED_PLUGINS
    )


def _slug(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


def _merge(findings: list[Finding]) -> list[Finding]:
    # Overlapping spans become one; the earlier-starting (then longer) finding names it.
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged


def false_positive_rate(paths: Iterable[Path], max_lines: int = 200_000) -> dict:
    """Share of non-blank lines of presumed-clean source files with any finding, per kind."""
    lines = flagged = 0
    kinds: dict[str, int] = {}
    for path in paths:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        hit_lines = set()
        for f in find_secrets(text):
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
            hit_lines.add(_line_of(line_starts, f.start))
        lines += sum(1 for ln in text.splitlines() if ln.strip())
        flagged += len(hit_lines)
        if lines >= max_lines:
            break
    return {
        "lines": lines,
        "flagged_lines": flagged,
        "rate": flagged / lines if lines else 0.0,
        "by_kind": kinds,
    }


def _line_of(line_starts: list[int], offset: int) -> int:
    import bisect

    return bisect.bisect_right(line_starts, offset) - 1


def stdlib_sample(n_files: int) -> list[Path]:
    """A fixed slice of this Python's standard library: clean code for the false-positive rate."""
    import sysconfig

    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:n_files]
