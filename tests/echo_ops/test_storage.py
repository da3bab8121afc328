from __future__ import annotations

import pytest

from echo_ops import storage
from echo_ops.config import get_settings


@pytest.fixture
def roots(tmp_path, s3_server):
    return {"local": str(tmp_path / "landing"), "s3": f"s3://{s3_server}/landing"}


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_write_list_read_delete(roots, backend):
    root = roots[backend]
    storage.write_bytes(
        root, "client/ds=2026-11-02/part-00001.jsonl", b'{"a":1}\n', get_settings().storage
    )
    storage.write_bytes(root, "client/ds=2026-11-02/part-00002.jsonl", b"", get_settings().storage)
    storage.write_bytes(root, "server/ds=2026-11-02/part-00001.jsonl", b"x", get_settings().storage)
    listed = storage.list_objects(root, "client/ds=2026-11-02", get_settings().storage)
    assert [o.key for o in listed] == [
        "client/ds=2026-11-02/part-00001.jsonl",
        "client/ds=2026-11-02/part-00002.jsonl",
    ]
    assert listed[0].size_bytes == 8
    assert storage.read_bytes(root, listed[0].key, get_settings().storage) == b'{"a":1}\n'
    assert storage.delete_prefix(root, "client", get_settings().storage) == 2
    assert [o.key for o in storage.list_objects(root, store=get_settings().storage)] == [
        "server/ds=2026-11-02/part-00001.jsonl"
    ]


def test_listing_a_missing_prefix_is_empty(tmp_path):
    assert storage.list_objects(str(tmp_path / "nothing"), store=get_settings().storage) == []
