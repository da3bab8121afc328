"""Shared fixtures: every test gets its own data root, so nothing touches ./data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# This checkout's package first, even when the venv's editable install points elsewhere.
sys.path.insert(0, str(REPO / "plugins"))

from echo_ops.config import Settings, get_settings, reset_settings_cache  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch) -> None:
    """Point ECHO_DATA_ROOT at a fresh temp dir and drop cached settings around each test."""
    for name in [k for k in __import__("os").environ if k.startswith("ECHO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ECHO_DATA_ROOT", str(tmp_path_factory.mktemp("echo-data")))
    monkeypatch.setenv("ECHO_CONFIG_FILE", str(REPO / "tests" / "no-such-echo.toml"))
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def settings() -> Settings:
    return get_settings()
