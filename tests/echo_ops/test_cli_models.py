"""The models CLI end to end on the tiny preset: bootstrap, list, show, register, rollback."""

from __future__ import annotations

import json

from echo_ops.cli import main


def test_bootstrap_register_list_show_rollback(tiny_copy, tmp_path, capsys):
    out = tmp_path / "base"
    assert main(["bootstrap-model", "--preset", "tiny", "--out", str(out)]) == 0
    boot = json.loads(capsys.readouterr().out)
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    assert boot["steps"] == 6 and boot["model_id"].startswith("bootstrap-")

    assert main(["bootstrap-model", "--preset", "tiny", "--if-no-champion"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "model_id": boot["model_id"],
        "skipped": "a champion already exists",
    }

    assert main(["models", "register", str(tiny_copy), "--champion"]) == 0
    registered = json.loads(capsys.readouterr().out)
    assert registered["status"] == "champion" and registered["kind"] == "registered"

    assert main(["models", "list"]) == 0
    assert "registry.models" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    listing = {m["model_id"]: m["status"] for m in json.loads(capsys.readouterr().out)}
    assert listing == {boot["model_id"]: "archived", registered["model_id"]: "champion"}

    assert main(["models", "show", boot["model_id"]]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "archived"

    assert main(["models", "rollback", "--reason", "smoke"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "rejected": registered["model_id"],
        "champion": boot["model_id"],
    }

    assert main(["models", "show", "nope"]) == 1
    assert "no model 'nope'" in capsys.readouterr().err
    assert main(["promote"]) == 1
    assert "no candidate waiting" in capsys.readouterr().err
