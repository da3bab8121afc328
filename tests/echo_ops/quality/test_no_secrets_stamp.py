"""The training set's no_secrets check scans each text once: rows the current detector
redacted at build time (their scanned_by stamp) are trusted, except where a token shape
trips the SQL tripwire; unstamped or stale rows are scanned."""

from __future__ import annotations

import json
from datetime import date

import pytest

from echo_ops.config import get_settings
from echo_ops.quality import DataQualityError, run_suite
from echo_ops.safety import TRIPWIRE, detector_version
from tests.kit import example_rows, insert

DAY = date(2026, 11, 20)


def _load(con, rows, stamp):
    insert(con, "training.examples", rows)
    con.execute("update training.examples set scanned_by = ?", [stamp])


def run(con):
    return run_suite(con, "training_set", DAY, get_settings())


def _details(con) -> dict:
    (details,) = con.execute(
        "select details_json from ops.dq_results where expectation = 'no_secrets_in_text' "
        "order by run_id desc limit 1"
    ).fetchone()
    return json.loads(details)


def _with_text(rows, i, text):
    rows[i] = (*rows[i][:8], text, *rows[i][9:])  # the target
    return rows


def test_stamped_rows_are_not_scanned_again(wh):
    _load(wh, example_rows(DAY, 40), detector_version())
    run(wh)
    assert _details(wh)["scanned"] == 0  # was: every text rescanned by every check run


def test_a_stamp_does_not_hide_a_token_the_tripwire_sees(wh):
    rows = _with_text(example_rows(DAY, 20), 3, "key = 'AKIAQ3EGRUZ7XK2LMN4P'\n")
    _load(wh, rows, detector_version())
    with pytest.raises(DataQualityError) as err:
        run(wh)
    assert [o.name for o in err.value.result.failed_blocking] == ["no_secrets_in_text"]
    assert _details(wh)["scanned"] == 1


@pytest.mark.parametrize("stamp", [None, "echo-older-detector"])
def test_unstamped_or_stale_rows_are_scanned(wh, stamp):
    rows = _with_text(example_rows(DAY, 20), 5, "# ask maria.lopez@example.org\n")
    _load(wh, rows, stamp)
    with pytest.raises(DataQualityError):
        run(wh)
    assert _details(wh)["scanned"] == 20


def test_the_tripwire_is_valid_re2_and_sees_each_token_family(wh):
    samples = ["-----BEGIN RSA PRIVATE KEY-----", "AKIAQ3EGRUZ7XK2LMN4P",
               "ghp_" + "a" * 36, "hf_kQzXbWvRtYpLmNaSdFgHjKlZxCvBnMqWeRtY",
               "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"]  # fmt: skip
    got = wh.execute("select list(regexp_matches(s, ?)) from unnest(?) t(s)", [TRIPWIRE, samples])
    assert got.fetchone()[0] == [True] * len(samples)
