"""The house rules a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "echo_ops"
# Entry points read the settings once and pass them down; nothing else may.
ENTRY_POINTS = {"config.py", "pipeline.py", "cli.py", "__main__.py"}


def _calls(path: Path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
    ]


def test_no_stage_module_reads_the_global_settings():
    offenders = {
        str(p.relative_to(PACKAGE)): lines
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name not in ENTRY_POINTS and (lines := _calls(p, "get_settings"))
    }
    assert offenders == {}, f"take `settings` as a parameter instead: {offenders}"


def test_the_rule_would_catch_a_call(tmp_path):
    sneaky = tmp_path / "stage.py"
    sneaky.write_text("from echo_ops import config\n\ndef f():\n    return config.get_settings()\n")
    assert _calls(sneaky, "get_settings") == [4]


def test_no_sql_statement_is_built_in_a_python_string_for_a_model():
    """Models (create table/view ... as, insert ... select with CTEs) live in include/sql."""
    offenders = []
    for p in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = " ".join(node.value.lower().split())
                if text.startswith("with ") and " as (" in text and "select" in text:
                    offenders.append(f"{p.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == [], f"move these SQL models into include/sql: {offenders}"
