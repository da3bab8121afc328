from __future__ import annotations

import json
import subprocess
import sys

import pytest

from echo_ops.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("config", "init", "publish"):
        assert command in out


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_config_json_shows_sources(capsys, monkeypatch):
    monkeypatch.setenv("ECHO_TRAIN__MAX_STEPS", "9")
    from echo_ops.config import reset_settings_cache

    reset_settings_cache()
    assert main(["config", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows["train.max_steps"] == {"value": "9", "source": "env ECHO_TRAIN__MAX_STEPS"}


def test_failure_exits_1_with_reason(capsys, monkeypatch):
    monkeypatch.setenv("ECHO_NOT_A_SETTING", "1")
    from echo_ops.config import reset_settings_cache

    reset_settings_cache()
    assert main(["config"]) == 1
    assert "ECHO_NOT_A_SETTING" in capsys.readouterr().err


def test_init_then_publish(settings, capsys):
    assert main(["init"]) == 0
    assert settings.storage.warehouse_path.exists()
    assert main(["publish"]) == 0
    published = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert {t.split(".")[0] for t in published["tables"]} <= {"marts", "registry"}
    assert settings.storage.published_path.exists()


def test_module_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "echo_ops", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "echo-ops" in out.stdout
