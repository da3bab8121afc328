"""Small literal tables in the contract's shape (docs/contracts.md), built per test."""

from __future__ import annotations

from datetime import date, datetime, timedelta

DAY = date(2026, 11, 20)

DDL = {
    "raw.client_events": """create table raw.client_events (ds date, event_id varchar, type varchar,
        ts timestamp, user_id varchar, session_id varchar, doc_uri varchar, doc_version bigint,
        completion_id varchar, request_id varchar, object_key varchar, line_no bigint, payload varchar)""",
    "raw.server_events": """create table raw.server_events (ds date, request_id varchar, ts timestamp,
        model_version varchar, prompt_prefix varchar, prompt_suffix varchar, completion varchar,
        latency_ms bigint, object_key varchar, line_no bigint, payload varchar)""",
    "staging.refinements": """create table staging.refinements (ds date, completion_id varchar,
        request_id varchar, user_id varchar, session_id varchar, doc_uri varchar, language_id varchar,
        model_version varchar, shown_at timestamp, prompt_prefix varchar, prompt_suffix varchar,
        proposal_text varchar, accepted_text varchar, accept_kind varchar, outcome varchar,
        final_text varchar, settled_reason varchar, trajectory_json json, edit_distance bigint,
        kept_rate double, accepted_retained_chars bigint)""",
    "training.examples": """create table training.examples (ds date, example_id varchar, source varchar,
        refinement_id varchar, user_id varchar, doc_uri varchar, prefix varchar, suffix varchar,
        target varchar, weight double, split varchar)""",
}


def client_rows(day: date, n: int, accepted_every: int = 2, prefix: str = "e") -> list[tuple]:
    """`n` events of `day`: shown/accepted pairs, acceptance rate 1/accepted_every of shown."""
    base = datetime.combine(day, datetime.min.time()) + timedelta(hours=9)
    rows = []
    for i in range(n):
        kind = (
            "completion.shown"
            if i % 2 == 0
            else (
                "completion.accepted" if (i // 2) % accepted_every == 0 else "completion.rejected"
            )
        )
        rows.append(
            (
                day,
                f"{prefix}{day:%m%d}-{i}",
                kind,
                base + timedelta(seconds=i),
                f"u{i % 3}",
                f"s{i % 3}",
                f"file:///repo/m{i % 4}.py",
                i,
                f"c{i // 2}",
                f"r{i // 2}",
                "k",
                i + 1,
                "{}",
            )
        )
    return rows


def insert(con, table: str, rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"insert into {table} values ({marks})", rows)


def refinement_rows(day: date, n: int) -> list[tuple]:
    base = datetime.combine(day, datetime.min.time()) + timedelta(hours=10)
    outcomes = ["accepted_kept", "accepted_refined", "rejected_empty", "rejected_written"]
    return [
        (
            day,
            f"c{i}",
            f"r{i}",
            f"u{i % 3}",
            "s1",
            f"file:///repo/m{i % 4}.py",
            "python",
            "m1",
            base + timedelta(minutes=i),
            "def f(",
            "):",
            f"x{i}",
            f"x{i}",
            "full",
            outcomes[i % 4],
            f"x{i} + 1",
            "quiet",
            "{}",
            i % 5,
            0.5,
            2,
        )
        for i in range(n)
    ]


def example_rows(day: date, n: int) -> list[tuple]:
    return [
        (
            day,
            f"ex{day:%d}-{i}",
            "refinement",
            f"c{i}",
            f"u{i % 3}",
            f"file:///repo/m{i}.py",
            f"def f{i}(a):\n    ",
            "\n",
            f"return a + {i}",
            1.0,
            "train",
        )
        for i in range(n)
    ]


ALIGNED_DDL = """create table staging.int_completions_aligned_to_events (ds date, completion_id varchar,
    request_id varchar, shown_at timestamp, user_id varchar, doc_uri varchar, model_version varchar,
    has_server boolean)"""


def aligned_rows(day: date, n: int, without_server: int = 0) -> list[tuple]:
    base = datetime.combine(day, datetime.min.time()) + timedelta(hours=8)
    return [
        (
            day,
            f"c{i}",
            f"r{i}",
            base + timedelta(minutes=i),
            f"u{i % 2}",
            "file:///a.py",
            None if i < without_server else "m1",
            i >= without_server,
        )
        for i in range(n)
    ]
