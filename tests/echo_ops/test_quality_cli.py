"""The CLI verbs of the quality stage: quality, consent, forget, scan-secrets."""

from __future__ import annotations

import json

from echo_ops.cli import main
from echo_ops.warehouse import connect

PLANTED = [
    ("aws_access_key", "AKIAQ3EGRUZ7XK2LMN4P", "k = '{v}'"),
    ("github_token", "ghp_Zx9Qw2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz9Xc2", "t = '{v}'"),
    ("connection_password", "Sup3rS3cret!", "db = 'mysql://root:{v}@10.0.0.5/app'"),
    ("email", "maria.lopez@example.org", "# ask {v}"),
    (
        "private_key",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n-----END EC PRIVATE KEY-----",
        "K = '''{v}'''",
    ),
]


def _truth(settings) -> None:
    path = settings.storage.truth_dir / "ds=2026-11-20" / "completions.jsonl"
    path.parent.mkdir(parents=True)
    rows = [
        {
            "completion_id": f"c{i}",
            "user_id": "u1",
            "final_text": t.format(v=v),
            "proposal_text": "x = 1",
            "planted_secrets": [{"kind": k, "value": v}],
        }
        for i, (k, v, t) in enumerate(PLANTED)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_scan_secrets_scores_planted_secrets(settings, capsys):
    _truth(settings)
    assert main(["scan-secrets", "--fp-files", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["planted"] == 5 and out["planted_secrets_leaked"] == 0
    assert 0 <= out["false_positive_rate"] < 0.01 and out["fp_lines_scanned"] > 100


def test_scan_secrets_fails_when_training_data_holds_a_planted_value(settings, capsys):
    _truth(settings)
    con = connect(settings)
    con.execute("create table training.examples (prefix varchar, target varchar, suffix varchar)")
    con.execute("insert into training.examples values ('', 'k = ''AKIAQ3EGRUZ7XK2LMN4P''', '')")
    con.close()
    assert main(["scan-secrets", "--fp-files", "1", "--check-training-set"]) == 1
    assert json.loads(capsys.readouterr().out)["leaked_in_training_set"] == 1


def test_forget_without_yes_refuses_off_a_terminal(settings, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["forget", "--user", "u1"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_consent_then_quality_cli(settings, capsys):
    assert main(["consent", "--user", "u9", "--opt-out"]) == 0
    assert json.loads(capsys.readouterr().out) == {"opted_out": True, "user_id": "u9"}
    assert main(["quality", "--suite", "raw_server", "--ds", "2026-11-20"]) == 1
    assert "table_exists" in capsys.readouterr().err


def test_planted_values_outside_the_completion_are_scored_standalone(settings, tmp_path):
    from echo_ops.simulate.score import score_planted_secrets

    day = tmp_path / "ds=2026-11-20"
    day.mkdir()
    secrets = [
        {
            "kind": "password",
            "value": "postgresql://svc_app:Xy7pQ2mN9kL4vB@db.internal.example:5432/app",
        },
        {
            "kind": "private_key",
            "value": "-----BEGIN RSA PRIVATE KEY-----\r\nQk9vZ3Vz"
            + "A" * 56
            + "\r\n-----END RSA PRIVATE KEY-----",
        },
        {"kind": "email", "value": "omar.silva@example.com"},
        {"kind": "aws_access_key", "value": "AKIAABCDEFGHIJ234567"},
    ]
    row = {"final_text": "x = 1", "proposal_text": "x = 2", "planted_secrets": secrets}
    (day / "completions.jsonl").write_text(
        json.dumps(row) + "\n"
    )  # CRLF inside the key survives JSON
    score = score_planted_secrets(tmp_path)
    assert score["planted"] == 4 and score["planted_secrets_leaked"] == 0, score


def test_forget_cli_with_yes_writes_an_audit(settings, capsys):
    assert main(["forget", "--user", "u7", "--yes", "--requested-by", "dpo"]) == 0
    out = json.loads(capsys.readouterr().out)
    con = connect(settings)
    places = con.execute(
        "select count(*) from ops.erasure_audit where erasure_id = ? and requested_by = 'dpo'",
        [out["erasure_id"]],
    ).fetchone()
    assert places[0] == len(out["removed"]) > 0
    assert con.execute("select opted_out from ops.consent where user_id = 'u7'").fetchone() == (
        True,
    )


def test_whole_documents_are_scored_and_a_missed_secret_counts_as_leaked(tmp_path):
    from echo_ops.simulate.score import score_documents

    day = tmp_path / "ds=2026-11-20"
    day.mkdir()
    key, weak = "ghp_PKjbph10mopwMYSmxoo5ltMAKSugNDuQ2Uck", "hunter2"
    completions = [
        {
            "session_id": "s1",
            "doc_uri": "a.py",
            "doc_secrets": [{"kind": "github_token", "value": key}],
        },
        {
            "session_id": "s1",
            "doc_uri": "b.py",
            "doc_secrets": [{"kind": "password", "value": weak}],
        },
        {"session_id": "s1", "doc_uri": "c.py", "doc_secrets": []},
    ]
    documents = [
        {
            "session_id": "s1",
            "doc_uri": "a.py",
            "final_text": f'import os\nGITHUB_TOKEN = "{key}"\n',
        },
        {"session_id": "s1", "doc_uri": "b.py", "final_text": f'pw = "{weak}"\n'},
        {"session_id": "s1", "doc_uri": "c.py", "final_text": "def f(x):\n    return x * 2\n"},
    ]
    for name, rows in (("completions", completions), ("documents", documents)):
        (day / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    score = score_documents(tmp_path)
    assert score["doc_planted"] == 2 and score["leaked_in_documents"] == 1
    assert score["clean_doc_lines"] == 2 and score["clean_doc_flagged_lines"] == 0
