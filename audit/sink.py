"""Where spooled audit objects go: an S3 bucket through boto3, or, with no
bucket configured, the same key layout under a local directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

SinkError = (BotoCoreError, ClientError, OSError)
"""What a failed upload raises: the shipper keeps the object and retries."""


class Sink(Protocol):
    def put(self, key: str, path: Path) -> None: ...

    def describe(self) -> str: ...


class S3Sink:
    def __init__(self, bucket: str, endpoint_url: str | None) -> None:
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        # Fail fast while S3 is unreachable: the object stays spooled and the
        # shipper retries on its next round.
        config = Config(
            connect_timeout=3, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"}
        )
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    def put(self, key: str, path: Path) -> None:
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
        )

    def describe(self) -> str:
        return f"s3://{self._bucket} ({self._endpoint_url or 'AWS'})"


class LocalSink:
    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, key: str, path: Path) -> None:
        target = self._root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(path, temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.rename(target)

    def describe(self) -> str:
        return str(self._root)
