"""The training set's no_secrets check scans each text once: rows the current detector
redacted at build time (their scanned_by stamp) are trusted, except where a token shape
trips the SQL tripwire; unstamped or stale rows are scanned."""

from __future__ import annotations

import json

import pytest
from quality_data import DAY, example_rows

from echo_ops.quality import DataQualityError, run_suite
from echo_ops.safety import TRIPWIRE, detector_version


def _load(con, rows, stamp):
    con.execute("alter table training.examples add column scanned_by varchar")
    con.executemany(
        f"insert into training.examples values ({', '.join('?' * (len(rows[0]) + 1))})",
        [(*r, stamp) for r in rows],
    )


def _details(con) -> dict:
    (details,) = con.execute(
        "select details_json from ops.dq_results where expectation = 'no_secrets_in_text' "
        "order by run_id desc limit 1"
    ).fetchone()
    return json.loads(details)


def _with_text(rows, i, text):
    rows[i] = (*rows[i][:6], text, *rows[i][7:])
    return rows


def test_stamped_rows_are_not_scanned_again(wh):
    _load(wh, example_rows(DAY, 40), detector_version())
    run_suite(wh, "training_set", DAY)
    assert _details(wh)["scanned"] == 0  # was: every text rescanned by every check run


def test_a_stamp_does_not_hide_a_token_the_tripwire_sees(wh):
    rows = _with_text(example_rows(DAY, 20), 3, "key = 'AKIAQ3EGRUZ7XK2LMN4P'\n")
    _load(wh, rows, detector_version())
    with pytest.raises(DataQualityError) as err:
        run_suite(wh, "training_set", DAY)
    assert [o.name for o in err.value.result.failed_blocking] == ["no_secrets_in_text"]
    assert _details(wh)["scanned"] == 1


@pytest.mark.parametrize("stamp", [None, "echo-older-detector"])
def test_unstamped_or_stale_rows_are_scanned(wh, stamp):
    rows = _with_text(example_rows(DAY, 20), 5, "# ask maria.lopez@example.org\n")
    _load(wh, rows, stamp)
    with pytest.raises(DataQualityError):
        run_suite(wh, "training_set", DAY)
    assert _details(wh)["scanned"] == 20


def test_the_tripwire_is_valid_re2_and_sees_each_token_family(wh):
    samples = ["-----BEGIN RSA PRIVATE KEY-----", "AKIAQ3EGRUZ7XK2LMN4P",
               "ghp_" + "a" * 36, "hf_kQzXbWvRtYpLmNaSdFgHjKlZxCvBnMqWeRtY",
               "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"]  # fmt: skip
    got = wh.execute("select list(regexp_matches(s, ?)) from unnest(?) t(s)", [TRIPWIRE, samples])
    assert got.fetchone()[0] == [True] * len(samples)
