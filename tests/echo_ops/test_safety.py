"""Secret and personal-data redaction: every planted kind is caught, clean code stays clean."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from echo_ops.safety import Finding, false_positive_rate, redact_text

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAx8kGbI2yZ1tQ9Wq3vB0R\n"
    "r1kLq9oQw+8mZ3h7dXbT0Ue2vA==\n"
    "-----END RSA PRIVATE KEY-----"
)

PLANTED = [
    ("aws_access_key", "AKIAQ3EGRUZ7XK2LMN4P", 'AWS_KEY = "{v}"\n'),
    ("github_token", "ghp_" + "Zx9Qw2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz9Xc2", 'token = "{v}"\n'),
    (
        "github_token",
        "github_pat_11AAAAAAA0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab",
        "t = '{v}'\n",
    ),
    ("private_key", PEM, 'KEY = """{v}"""\n'),
    ("connection_password", "Sup3rS3cret!", 'DSN = "postgresql://app:{v}@db.internal:5432/prod"\n'),
    ("email", "maria.lopez@example.org", "# contact {v} for access\n"),
    ("secret_assignment", "hunter2-correct-horse", 'password = "{v}"\n'),
]


@pytest.mark.parametrize(
    ("kind", "value", "template"), PLANTED, ids=[p[0] + str(i) for i, p in enumerate(PLANTED)]
)
def test_each_planted_kind_is_redacted(kind, value, template):
    text = "import os\n\n" + template.format(v=value) + "print(1)\n"
    red = redact_text(text)
    assert value not in red.text
    assert f"<REDACTED:{kind}>" in red.text
    assert red.text.startswith("import os\n") and red.text.endswith("print(1)\n")


def test_truncated_private_key_is_redacted_to_the_end():
    text = "x = 1\nKEY = '''-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5v\nAAAA"
    red = redact_text(text)
    assert "b3BlbnNz" not in red.text and red.text.startswith("x = 1\n")


def test_findings_have_offsets_into_the_original_text():
    text = "a = 1  # mail bob@example.com\nk = 'AKIAQ3EGRUZ7XK2LMN4P'\n"
    red = redact_text(text)
    assert [(f.kind, text[f.start : f.end]) for f in red.findings] == [
        ("email", "bob@example.com"),
        ("aws_access_key", "AKIAQ3EGRUZ7XK2LMN4P"),
    ]
    assert all(isinstance(f, Finding) for f in red.findings)


@pytest.mark.parametrize(
    "clean",
    [
        "def add(a, b):\n    return a + b\n",
        "password = get_password()\n",
        "url = f'https://{host}:{port}/path'\n",
        "ID = '123e4567-e89b-12d3-a456-426614174000'\n",
        "@decorator\ndef f(): pass\n",
        "x = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'\n",
    ],
)
def test_ordinary_code_is_left_alone(clean):
    assert redact_text(clean).findings == []


def test_false_positive_rate_on_a_stdlib_slice_is_low():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))[:40]
    fp = false_positive_rate(files)
    assert fp["lines"] > 5000
    assert fp["rate"] < 0.005, fp


def test_redaction_is_idempotent():
    text = 'db_pass = "hunter2hunter2"\nu = "mysql://a:b3ta-pass@h/x"  # a@b.io\nk = "AKIAQ3EGRUZ7XK2LMN4P"\n'
    once = redact_text(text).text
    assert once.count("<REDACTED:") == 4
    assert redact_text(once).text == once


def test_key_material_without_its_begin_line_is_redacted():
    """A completion that starts inside a key block (seen in bench/quality.py) still leaks nothing."""
    body = ["k" * 20 + "Q3+/" * 11, "Zm9vYmFy" * 8]
    tail = "\n".join([body[0][10:], body[1], "-----END RSA PRIVATE KEY-----", "x = 1"])
    red = redact_text(tail)
    assert body[1] not in red.text and "END RSA" not in red.text
    assert red.text.endswith("x = 1")
    only_body = f"{body[1]}\n{body[0]}\n"
    red = redact_text(only_body)
    assert body[0] not in red.text and body[1] not in red.text
    assert {f.kind for f in red.findings} == {"private_key"}


def test_code_before_a_complete_key_block_is_kept():
    text = 'def f():\n    return 1\nKEY = """-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"""\n'
    red = redact_text(text)
    assert red.text.startswith('def f():\n    return 1\nKEY = """<REDACTED:private_key>')


# Families that leaked in a held-back audit (issue 14): each form as it is met in code,
# config files and .env files. The values are made up, in each family's real shape.
LEAKED_BEFORE = [
    ("huggingface_token", 'HF_TOKEN = "hf_kQzXbWvRtYpLmNaSdFgHjKlZxCvBnMqWeRtY"\n'),
    ("huggingface_token", 'login(token="hf_kQzXbWvRtYpLmNaSdFgHjKlZxCvBnMqWeRtY")\n'),
    (
        "openai_key",
        'OpenAI(api_key="sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq2rS")\n',
    ),
    ("npm_token", 'const token = "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"\n'),
    ("auth_token", 'AUTH_TOKEN = "9f86d081884c7d659a2feaa0c55ad015"\n'),
    ("auth_token", "headers = {'X-Auth-Token': 'a3f5c9e1b7d24680f1e3c5a7b9d0e2f4'}\n"),
    ("auth_token", "api_token: 5d41402abc4b2a76b9719d911017c592\n"),
    ("env_secret", "DB_PASSWORD=Tr0ub4dor&3x\n"),
    ("env_secret", "SECRET_KEY=django-insecure-7h#x@q!2v$k9m&p3z^w8r\n"),
    ("env_secret", "export JWT_SECRET=eyJhbGciOiJIUzI1NiJ9supersecret\n"),
]


@pytest.mark.parametrize(("kind", "line"), LEAKED_BEFORE, ids=[k + str(i) for i, (k, _) in enumerate(LEAKED_BEFORE)])  # fmt: skip
def test_families_that_leaked_are_redacted(kind, line):
    red = redact_text("import os\n" + line + "print(1)\n")
    assert f"<REDACTED:{kind}>" in red.text
    secret = line.split("=", 1)[-1].split(":", 1)[-1]
    assert secret.strip(" \"'\n)}") not in red.text


@pytest.mark.parametrize(
    "clean",
    [
        'secret_name = "projects/my-project/secrets/db-password/versions/latest"\n',
        'secret_id = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"\n',
        "    password=password,\n",
        "        passwd=None\n",
        "SECRET_KEY=${SECRET_KEY}\n",
        'expected_md5 = "9f86d081884c7d659a2feaa0c55ad015"\n',
        'TOKEN_TYPE = "bearer"\n',
    ],
)
def test_secret_references_and_checksums_stay_clean(clean):
    assert redact_text(clean).findings == []


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_key_body_lines_of_a_crlf_file_are_redacted(eol):
    # The one private key bench/quality.py saw leak: a target of one body line and "\r\n".
    body = "KgAkHnEvXoSt7BGa5mmua35YGf4EucVefDuxF6xvi7B+SBOLaLjKYQMuVeTq6QJG"
    for text in (body + eol, body + eol + "r1kLq9oQw+8mZ3h7dXbT0Ue2vA==" + eol):
        red = redact_text(text)
        assert "KgAkHnEv" not in red.text and "r1kLq9oQ" not in red.text, repr(red.text)


def test_env_secrets_in_a_crlf_file_are_redacted():
    assert "Tr0ub4dor" not in redact_text("DB_PASSWORD=Tr0ub4dor&3x\r\nX=1\r\n").text
