"""End to end: the simulator's landing zone replays into the documents people wrote,
its truth agrees with its events, and every noise knob shows up as configured."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from simkit import good_events, read_lines, replay_documents, texts_at, truth_rows

from echo_ops import storage
from echo_ops.config import Settings
from echo_ops.contract import OUTCOMES
from echo_ops.corpus import CorpusError, generated_or_data
from echo_ops.errors import NoChampionError
from echo_ops.simulate import simulate_days

DAY = date(2026, 11, 2)
SMALL = {
    "users": 3,
    "sessions_per_user": 1,
    "files_per_session": 2,
    "max_file_lines": 50,
    "crlf_share": 0.4,
    "non_ascii_rate": 1.0,
    "utf8_client_share": 0.4,
    "secret_rate": 1.0,
    "seed": 25,  # this seed gives CRLF and LF documents under both utf-8 and utf-16 clients
}


def _settings(root: Path, **simulate) -> Settings:
    return Settings(data_root=root, simulate=simulate)


def _run(root: Path, days: int = 1, workers: int = 1, **simulate) -> tuple[Settings, dict]:
    settings = _settings(root, **simulate)
    return settings, simulate_days(DAY, days, workers=workers, settings=settings)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    # Default behaviour and rates, a few people, two days (late events cross midnight).
    # seed 10: every outcome occurs (rejected_empty is rare: 0-11 of ~550 across seeds 7-11)
    return _run(tmp_path_factory.mktemp("medium"), days=2, users=6, sessions_per_user=1, seed=10)


def test_replay_reproduces_the_documents_exactly_crlf_and_non_ascii(small):
    settings, result = small
    events, bad = good_events(settings.storage.landing_uri, "client")
    replayed = replay_documents(events)
    docs = truth_rows(settings.storage.truth_dir, "documents.jsonl")
    assert len(docs) == len(replayed) >= 5
    for doc in docs:
        assert replayed[(doc["session_id"], doc["doc_uri"])] == doc["final_text"], doc["doc_uri"]
        assert doc["is_intended"], doc["doc_uri"]  # the person wrote exactly the file they meant
    kinds = {(d["eol"], d["position_encoding"]) for d in docs}
    assert kinds == {("crlf", "utf-8"), ("crlf", "utf-16"), ("lf", "utf-8"), ("lf", "utf-16")}
    assert any(re.search("[\U00010000-\U0010ffff]", d["final_text"]) for d in docs)
    assert all("\r" not in d["final_text"].replace("\r\n", "") for d in docs)
    said = {json.dumps(e["client"], sort_keys=True) for e in events}
    assert any("position_encoding" not in c for c in map(json.loads, said))  # utf-16 by default


def test_every_line_is_contract_valid_except_the_planted_bad_ones(small):
    settings, _ = small
    summary = json.loads((settings.storage.truth_dir / f"ds={DAY}" / "summary.json").read_text())
    counts = summary["counts"]
    for source in ("client", "server"):
        _, bad = good_events(settings.storage.landing_uri, source)
        planted = sum(v for k, v in counts.items() if re.match(f"{source}_(corrupt|oversize)", k))
        assert bad == planted


def test_truth_agrees_with_the_events(medium):
    settings, result = medium
    rows = truth_rows(settings.storage.truth_dir, "completions.jsonl")
    events, _ = good_events(settings.storage.landing_uri, "client", validate=False)
    shown = {e["completion_id"]: e for e in events if e["type"] == "completion.shown"}
    assert {r["completion_id"] for r in rows} == set(shown) and len(rows) == len(shown)
    outcomes = Counter(r["intended_outcome"] for r in rows)
    assert set(outcomes) == set(OUTCOMES)  # every outcome occurs
    for r in rows:
        assert r["proposal_text"] == shown[r["completion_id"]]["items"][0]["insert_text"]
        assert r["shown_ts"][:10] == shown[r["completion_id"]]["ts"][:10]
        if r["intended_outcome"] == "accepted_kept":
            assert r["final_text"] == r["proposal_text"]
        if r["intended_outcome"] == "rejected_empty":
            assert r["final_text"] == ""
    accepted = {e["completion_id"]: e for e in events if e["type"] == "completion.accepted"}
    for cid, e in accepted.items():
        assert e["doc"]["version"] > shown[cid]["doc"]["version"]
    assert 0.10 <= result["acceptance_rate"] <= 0.30


def test_planted_secrets_are_listed_in_truth(small):
    settings, _ = small
    rows = truth_rows(settings.storage.truth_dir, "completions.jsonl")
    server, _ = good_events(settings.storage.landing_uri, "server")
    prompts = {e["request_id"]: e["prompt"]["prefix"] + e["prompt"]["suffix"] for e in server}
    listed = [(r, s) for r in rows for s in r["planted_secrets"]]
    assert listed, "secret_rate=1 plants a secret in every session"
    kinds = {s["kind"] for _, s in listed}
    assert kinds <= {"aws_access_key", "github_token", "private_key", "password", "email"}
    for r, s in listed:
        seen = prompts[r["request_id"]] + r["proposal_text"] + r["final_text"]
        assert s["value"] in seen


def test_editor_behaviours_real_editors_show(medium):
    settings, _ = medium
    events, _ = good_events(settings.storage.landing_uri, "client", validate=False)
    changed = [e for e in events if e["type"] == "document.changed"]
    texts = Counter(c["text"] for e in changed for c in e["changes"])
    assert sum(1 for e in changed if len(e["changes"]) > 1) > 0  # multi-change events
    assert texts["()"] > 0 and texts['""'] + texts["''"] > 0  # auto-closed pairs
    assert any(t.startswith("\n    ") or t.startswith("\r\n    ") for t in texts)  # auto-indent
    assert texts["    "] > 0  # Tab
    toggles = [e for e in changed if len(e["changes"]) > 1 and e["changes"][0]["text"] == "# "]
    assert toggles, "comment toggles: one multi-cursor change per toggle"
    accepts = [e for e in events if e["type"] == "completion.accepted"]
    kinds = Counter(e["accept_kind"] for e in accepts)
    assert kinds["full"] and kinds["line"] and kinds["word"]
    assert all(e["accepted_text"].endswith("\n") for e in accepts if e["accept_kind"] == "line")
    assert any(len(e["accepted_text"]) == 1 for e in accepts if e["accept_kind"] == "word")
    trims = [e for e in changed if len(e["changes"]) > 1 and e["changes"][0]["text"] == ""]
    assert trims, "edits carrying the editor's auto-indent trim"
    reasons = Counter(e["reason"] for e in events if e["type"] == "completion.rejected")
    assert reasons["typed_over"] and reasons["dismissed"]


def test_noise_knobs_show_up_at_their_rates(medium):
    settings, result = medium
    cfg = settings.simulate
    counts = Counter()
    for ds in ("2026-11-02", "2026-11-03"):
        counts.update(
            json.loads((settings.storage.truth_dir / f"ds={ds}" / "summary.json").read_text())[
                "counts"
            ]
        )
    n = counts["client_events"]
    for knob, key in (
        ("duplicate_rate", "client_duplicates"),
        ("late_rate", "client_late"),
        ("reorder_rate", "client_reordered"),
    ):
        rate = getattr(cfg, knob)
        assert abs(counts[key] - rate * n) <= 5 * (rate * n) ** 0.5 + 2, (
            knob,
            counts[key],
            rate * n,
        )
    # Evidence in the landing zone itself: duplicate ids and next-day arrivals.
    ids = Counter()
    day_of: dict[str, set[str]] = {}
    ts_day: dict[str, str] = {}
    for key, line in read_lines(settings.storage.landing_uri, "client"):
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(e.get("event_id"), str) and not e["event_id"].endswith(("~x", "~big")):
            ids[e["event_id"]] += 1
            ts_day[e["event_id"]] = e["ts"][:10]
            day_of.setdefault(e["event_id"], set()).add(key.split("/")[1])
    assert sum(c - 1 for c in ids.values()) == counts["client_duplicates"]
    assert len(ids) == n
    landed_late = sum(1 for i, days in day_of.items() if max(days) > f"ds={ts_day[i]}")
    assert abs(landed_late - counts["client_late"]) <= 3


def test_each_client_clock_is_skewed_by_a_constant(medium):
    settings, _ = medium
    client, _ = good_events(settings.storage.landing_uri, "client", validate=False)
    server, _ = good_events(settings.storage.landing_uri, "server", validate=False)
    server_ts = {e["request_id"]: e["ts"] for e in server}
    skews: dict[str, set[float]] = {}
    for e in client:
        if e["type"] == "completion.shown":
            t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()  # noqa: E731
            skews.setdefault(e["user_id"], set()).add(
                round(t(e["ts"]) - t(server_ts[e["request_id"]]), 3)
            )
    assert len(skews) == 6 and all(len(s) == 1 for s in skews.values())
    values = [s.pop() for s in skews.values()]
    assert all(abs(v) <= settings.simulate.max_skew_s for v in values) and len(set(values)) == 6


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_serial_or_parallel(small, tmp_path):
    settings, _ = small
    again, _ = _run(tmp_path / "again", workers=2, **SMALL)
    assert _tree(Path(settings.storage.landing_uri)) == _tree(Path(again.storage.landing_uri))
    assert _tree(settings.storage.truth_dir) == _tree(again.storage.truth_dir)
    other, _ = _run(tmp_path / "other", **{**SMALL, "seed": 3})
    assert _tree(Path(settings.storage.landing_uri)) != _tree(Path(other.storage.landing_uri))


def test_landing_layout_follows_the_contract(medium):
    settings, _ = medium
    keys = [o.key for o in storage.list_objects(settings.storage.landing_uri)]
    pattern = re.compile(r"^(client|server)/ds=\d{4}-\d{2}-\d{2}/part-\d{5}\.jsonl\.gz$")
    assert keys and all(pattern.match(k) for k in keys)
    assert {k.split("/")[1] for k in keys} == {"ds=2026-11-02", "ds=2026-11-03", "ds=2026-11-04"}
    assert not any("truth" in k for k in keys)


def test_empty_corpus_and_missing_champion_fail_clearly(tmp_path):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError, match="no source file"):
        _run(tmp_path, corpus="base", corpus_dir=tmp_path / "corpus")
    with pytest.raises(ValueError, match="need days >= 1"):
        simulate_days(DAY, 0, workers=1, settings=_settings(tmp_path))
    with pytest.raises(NoChampionError, match="no champion model in the registry yet"):
        simulate_days(DAY, 1, proposer="model", workers=1, settings=_settings(tmp_path, users=1))


def test_rerun_with_fewer_people_leaves_no_stale_parts(tmp_path):
    settings, _ = _run(
        tmp_path, users=3, sessions_per_user=1, files_per_session=1, max_file_lines=30
    )
    landing = settings.storage.landing_uri
    before = {o.key for o in storage.list_objects(landing)}
    _run(tmp_path, users=1, sessions_per_user=1, files_per_session=1, max_file_lines=30)
    after = {o.key for o in storage.list_objects(landing)}
    assert after < before and all(re.search(r"part-(0000\d|2000\d)", k) for k in after)


def test_shown_and_accepted_events_align_with_the_text_and_the_server(small):
    settings, _ = small
    events, _ = good_events(settings.storage.landing_uri, "client")
    server, _ = good_events(settings.storage.landing_uri, "server")
    prompts = {e["request_id"]: e["prompt"] for e in server}
    shown = [e for e in events if e["type"] == "completion.shown"]
    accepted = [e for e in events if e["type"] == "completion.accepted"]
    key = lambda e: (e["session_id"], e["doc"]["uri"], e["doc"]["version"])  # noqa: E731
    docs = texts_at(events, {key(e) for e in shown + accepted})
    assert shown and accepted
    for e in shown:  # the proposal was computed on this text, at this position
        doc = docs[key(e)]
        off = doc.offset_at(e["position"]["line"], e["position"]["character"])
        cut = len(doc.slice(0, off))
        prompt = prompts[e["request_id"]]
        assert doc.text[:cut].endswith(prompt["prefix"]) and doc.text[cut:].startswith(
            prompt["suffix"]
        )
    by_cid = {e["completion_id"]: e for e in shown}
    changed = {key(e): e for e in events if e["type"] == "document.changed"}
    for e in accepted:  # the accepting change inserts the accepted text (maybe not first)
        inserts = [c for c in changed[key(e)]["changes"] if c["text"] == e["accepted_text"]]
        assert len(inserts) == 1 and inserts[0]["range"]["start"] == inserts[0]["range"]["end"]
        assert e["doc"]["version"] == by_cid[e["completion_id"]]["doc"]["version"] + 1
    ordered = sorted(
        events, key=lambda e: (e["session_id"], int(e["event_id"].rsplit(".", 1)[1], 16))
    )
    typed_over = [i for i, e in enumerate(ordered) if e.get("reason") == "typed_over"]
    assert typed_over and all(ordered[i - 1]["type"] == "document.changed" for i in typed_over)


def test_documents_list_what_was_planted_in_them(small):
    settings, _ = small
    docs = truth_rows(settings.storage.truth_dir, "documents.jsonl")
    planted = [(d, s) for d in docs for s in d["planted_secrets"]]
    assert len({d["session_id"] for d, _ in planted}) == 3  # secret_rate=1: every session
    assert all(s["value"] in d["final_text"] for d, s in planted)
    rows = truth_rows(settings.storage.truth_dir, "completions.jsonl")
    by_doc = {(d["session_id"], d["doc_uri"]): d["planted_secrets"] for d in docs}
    assert all(r["doc_secrets"] == by_doc[(r["session_id"], r["doc_uri"])] for r in rows)


JS = """import { readFile } from "node:fs/promises";

export class Cache {
    constructor(limit) {
        this.limit = limit;
        this.items = new Map();
    }

    get(key) {
        const hit = this.items.get(key);
        if (hit === undefined) {
            return null;
        }
        this.items.delete(key);
        this.items.set(key, hit);
        return hit;
    }

    set(key, value) {
        if (this.items.size >= this.limit) {
            const oldest = this.items.keys().next().value;
            this.items.delete(oldest);
        }
        this.items.set(key, value);
    }
}

export async function loadJson(path) {
    const text = await readFile(path, "utf8");
    return JSON.parse(text);
}

export function total(values) {
    let sum = 0;
    for (const v of values) {
        sum += v;
    }
    return sum;
}
"""


def test_any_directory_of_source_files(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "web").mkdir(parents=True)
    (corpus / "web" / "cache.js").write_text(JS)
    (corpus / "notes.txt").write_text("not code\n" * 200)
    py = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(40))
    (corpus / "funcs.py").write_text(py)
    settings, _ = _run(
        tmp_path,
        corpus="base",
        corpus_dir=corpus,
        users=2,
        sessions_per_user=1,
        files_per_session=2,
        non_ascii_rate=1.0,
        seed=4,
    )
    events, _ = good_events(settings.storage.landing_uri, "client")
    docs = truth_rows(settings.storage.truth_dir, "documents.jsonl")
    replayed = replay_documents(events)
    assert {d["doc_uri"].rsplit("/", 1)[1] for d in docs} == {"cache.js", "funcs.py"}
    assert all(
        replayed[(d["session_id"], d["doc_uri"])] == d["final_text"] and d["is_intended"]
        for d in docs
    )
    langs = {
        e["doc"]["uri"].rsplit(".", 1)[1]: e["doc"]["language_id"]
        for e in events
        if e["type"] == "document.opened"
    }
    assert langs == {"js": "javascript", "py": "python"}
    js_text = next(d["final_text"] for d in docs if d["doc_uri"].endswith(".js"))
    assert "// " in js_text and "\n# " not in js_text  # planted comments in the file's syntax


@pytest.mark.parametrize(
    ("text", "skipped"),
    [
        ("# Auto generated by tools/make_tables.py\nfrom x import T\nT = [(1, 2)]\n", True),
        ("// DO NOT EDIT: generated from schema.proto\nint a = b;\n", True),
        (
            '"""Trees can be generated by passing a flag."""\nimport os\ndef f():\n    return 1\n',
            False,
        ),
        ("TABLE = [\n" + "    (4352, 4447, 2),\n" * 20 + "]\n", True),  # unicode widths
        ("EMOJI = {\n" + '    "smile": "\U0001f604",\n' * 20 + "}\n", True),
        # a codec table: a string and a comment per line
        ("decoding_table = (\n" + "    '\\x00'     #  0x00 -> NULL\n" * 20 + ")\n", True),
        ("def f(x):\n    y = [\n        (1, 2),\n    ]\n    z = x + 1\n    return y, z\n", False),
        ("MAP = {\n" + "    0x00a1: 0x00a1,\n" * 8 + "}\ndef f():\n    pass\n", True),  # hex
    ],
)
def test_generated_and_data_files_are_not_typed(text, skipped):
    assert generated_or_data(text.splitlines()) is skipped


def test_people_only_open_hand_written_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    py = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(40))
    (corpus / "funcs.py").write_text(py)
    (corpus / "widths.py").write_text("# Auto generated by make_widths.py\n" + py)
    (corpus / "table.py").write_text("T = [\n" + "    (1, 2, 3),\n" * 300 + "]\n")
    settings, _ = _run(tmp_path, corpus="base", corpus_dir=corpus, users=3, seed=4,
                       sessions_per_user=1, files_per_session=3)  # fmt: skip
    docs = truth_rows(settings.storage.truth_dir, "documents.jsonl")
    assert docs and {d["doc_uri"].rsplit("/", 1)[1] for d in docs} == {"funcs.py"}


def test_an_accept_can_carry_the_editors_whitespace_trim(tmp_path):
    # Statements separated by blank lines at one indent: Enter leaves auto-indent on the
    # blank line, and the next edit on the following line (often an accept) trims it.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "\n\n".join(f"    v{i} = compute(v{i - 1}, {i})" for i in range(1, 60))
    (corpus / "steps.py").write_text("def steps(v0):\n" + body + "\n    return v59\n")
    settings, _ = _run(
        tmp_path,
        corpus="base",
        corpus_dir=corpus,
        users=2,
        sessions_per_user=2,
        files_per_session=1,
        max_file_lines=120,
        hole_share=0.6,
        seed=1,
    )
    events, _ = good_events(settings.storage.landing_uri, "client")
    key = lambda e: (e["session_id"], e["doc"]["uri"], e["doc"]["version"])  # noqa: E731
    changed = {key(e): e for e in events if e["type"] == "document.changed"}
    carried = []
    for e in events:
        if e["type"] == "completion.accepted":
            changes = changed[key(e)]["changes"]
            if len(changes) > 1:
                carried.append(changes)
    assert carried, "an accept insertion carrying the editor's whitespace trim"
    for changes in carried:  # the trim comes first: the insertion is not changes[0]
        assert changes[0]["text"] == "" and changes[0]["range"]["start"]["character"] == 0
        assert changes[1]["text"]
    docs = truth_rows(settings.storage.truth_dir, "documents.jsonl")
    replayed = replay_documents(events)
    assert all(replayed[(d["session_id"], d["doc_uri"])] == d["final_text"] for d in docs)
