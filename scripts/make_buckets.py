"""Create the S3 buckets Echo's settings name (landing zone and model artifacts), if missing.

Reads the same ECHO_* settings as the DAGs (`storage.landing_uri`, `storage.artifacts_uri`,
`storage.s3_endpoint_url`); local (non-s3://) locations are skipped. Used by `make up-local`
(moto on loopback) and by docker-compose's `bucket-init` service (MinIO).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from echo_ops.config import get_settings  # noqa: E402
from echo_ops.storage import is_s3, s3_client, split_s3  # noqa: E402


def main() -> int:
    store = get_settings().storage
    buckets = sorted({split_s3(u)[0] for u in (store.landing_uri, store.artifacts_uri) if is_s3(u)})
    client = s3_client(store) if buckets else None
    for bucket in buckets:
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        print(f"bucket {bucket}: {'exists' if bucket in existing else 'created'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
