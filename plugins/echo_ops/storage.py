"""Object storage for the landing zone and model artifacts: a local dir or s3:// (boto3).

Stages name places by URI (`/data/landing` or `s3://bucket/prefix`) and call these
functions; nothing else in Echo knows which backend it is talking to.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from echo_ops.config import StorageSettings


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # path relative to the root URI, with forward slashes
    size_bytes: int


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")


def s3_client(store: StorageSettings | None):
    """A boto3 client for the configured endpoint (`store`: the storage settings)."""
    import boto3  # boto3 is slow to import; only S3 users pay for it

    if store is None:
        raise ValueError("an s3:// location needs the storage settings (endpoint, region)")
    return boto3.client("s3", endpoint_url=store.s3_endpoint_url, region_name=store.s3_region)


def join(root: str, key: str) -> str:
    return f"{root.rstrip('/')}/{key.lstrip('/')}"


def list_objects(
    root: str, prefix: str = "", store: StorageSettings | None = None
) -> list[ObjectInfo]:
    """Every object under `root/prefix`, sorted by key."""
    if is_s3(root):
        bucket, base = split_s3(root)
        full = "/".join(p for p in (base, prefix.strip("/")) if p)
        pages = (
            s3_client(store)
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=full + "/" if full else "")
        )
        strip = len(base) + 1 if base else 0
        found = [
            ObjectInfo(o["Key"][strip:], o["Size"])
            for page in pages
            for o in page.get("Contents", [])
        ]
        return sorted(found, key=lambda o: o.key)
    base = Path(root)
    start = base / prefix if prefix else base
    if not start.exists():
        return []
    return sorted(
        (
            ObjectInfo(p.relative_to(base).as_posix(), p.stat().st_size)
            for p in start.rglob("*")
            if p.is_file()
        ),
        key=lambda o: o.key,
    )


def read_bytes(root: str, key: str, store: StorageSettings | None = None) -> bytes:
    if is_s3(root):
        bucket, base = split_s3(root)
        obj = s3_client(store).get_object(Bucket=bucket, Key="/".join(p for p in (base, key) if p))
        return obj["Body"].read()
    return (Path(root) / key).read_bytes()


def write_bytes(root: str, key: str, data: bytes, store: StorageSettings | None = None) -> None:
    """Write an object whole: readers never see a partial file (tmp + os.replace locally)."""
    if is_s3(root):
        bucket, base = split_s3(root)
        s3_client(store).put_object(
            Bucket=bucket, Key="/".join(p for p in (base, key) if p), Body=data
        )
        return
    path = Path(root) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def delete_prefix(root: str, prefix: str, store: StorageSettings | None = None) -> int:
    """Delete every object under `root/prefix`; returns how many were deleted."""
    objects = list_objects(root, prefix, store)
    if is_s3(root):
        bucket, base = split_s3(root)
        client = s3_client(store)
        for i in range(0, len(objects), 1000):
            keys = [{"Key": "/".join(p for p in (base, o.key) if p)} for o in objects[i : i + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    else:
        target = Path(root) / prefix
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return len(objects)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
