"""``S3Blobs``: the studio's files in an S3-compatible bucket (``STUDIO_STORAGE_URL=s3://bucket/prefix``).

Written for AWS S3, Cloudflare R2, MinIO and Google Cloud Storage's interoperability API (set
``STUDIO_S3_ENDPOINT_URL`` for all but AWS); tests run it against moto's S3 server on loopback.
Credentials come from the standard chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an
instance role), the region from ``AWS_REGION``. botocore retries throttling and transient errors (standard
mode); what is left is mapped to one designer sentence naming what is unreachable and what to do. A single
PUT is atomic: an object is either absent or complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from studio.domain.errors import StoreError
from studio.storage.blobs import BlobMissing, check_key, content_addressed

_MISSING = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")`` (the prefix is empty or ends in /)."""
    rest = url.strip().removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreError("STUDIO_STORAGE_URL names no bucket: write it as s3://bucket or s3://bucket/prefix.")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Blobs:
    mode = "s3"

    def __init__(self, url: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.url = url
        self.bucket, self.prefix = parse_url(url)
        self.endpoint_url = endpoint_url
        config = Config(
            # AWS_MAX_ATTEMPTS counts the first try too, as botocore's own variable does.
            retries={"mode": "standard", "total_max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS") or 4)},
            connect_timeout=5,
            max_pool_connections=32,  # up to 16 workers each saving an original and a thumbnail
            read_timeout=60,
            # S3-compatible stores on a custom endpoint (MinIO, R2, GCS) all take path-style addresses.
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.client = client or boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    # -- errors --------------------------------------------------------------------------

    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    def _error(self, exc: Exception, key: str, doing: str) -> StoreError:
        where = self._where()
        kept = "nothing already saved was lost"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code == "NoSuchBucket":
                return StoreError(
                    f"The bucket {self.bucket} does not exist ({where}); create it or correct "
                    f"STUDIO_STORAGE_URL, then retry — {kept}."
                )
            if code in _MISSING or status == "404":
                return BlobMissing(f"The file {key} is missing from {where} (run `studio doctor`).")
            if code in _DENIED or status == "403":
                return StoreError(
                    f"The studio may not {doing} {where} (access denied: {code or status}); check "
                    f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the bucket's policy — {kept}."
                )
            return StoreError(
                f"The bucket {where} refused to {doing} {key} ({code or status}); retry in a moment — {kept}."
            )
        if isinstance(exc, NoCredentialsError):
            return StoreError(
                f"No credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile "
                f"or instance role) — {kept}."
            )
        if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
            return StoreError(
                f"The bucket {where} did not answer in time while trying to {doing} {key}; check the "
                f"network and retry — {kept}."
            )
        if isinstance(exc, EndpointConnectionError):
            return StoreError(
                f"The object store {where} cannot be reached; check STUDIO_S3_ENDPOINT_URL and the "
                f"network, then retry — {kept}."
            )
        return StoreError(f"The bucket {where} failed to {doing} {key} ({type(exc).__name__}); {kept}.")

    def _call(self, doing: str, key: str, method: str, **kw: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kw)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key, doing) from exc

    # -- Blobs ---------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes, *, replace: bool = False) -> bool:
        if not replace and content_addressed(key) and self.size(key) == len(data):
            return False  # same hash, same bytes: re-putting would only cost a transfer
        self._call("write to", key, "put_object", Key=self._key(key), Body=data)
        return True

    def get(self, key: str) -> bytes:
        body = self.open(key)
        try:
            return body.read()
        except (BotoCoreError, OSError) as exc:
            raise self._error(exc, key, "read") from exc
        finally:
            body.close()

    def open(self, key: str) -> BinaryIO:
        reply = self._call("read", key, "get_object", Key=self._key(key))
        return cast(BinaryIO, reply["Body"])  # botocore's StreamingBody: read(n), iter_chunks(), close()

    def size(self, key: str) -> int | None:
        try:
            reply = self._call("read", key, "head_object", Key=self._key(key))
        except BlobMissing:
            return None
        return int(reply["ContentLength"])

    def modified(self, key: str) -> float | None:
        try:
            reply = self._call("read", key, "head_object", Key=self._key(key))
        except BlobMissing:
            return None
        return float(reply["LastModified"].timestamp())

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        self._call("delete from", key, "delete_object", Key=self._key(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])[len(self.prefix) :]
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix or "(all)", "list") from exc

    def locator(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def local_path(self, key: str) -> Path | None:
        return None
