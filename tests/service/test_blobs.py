"""One contract for both storages: a folder (``LocalBlobs``) and a bucket on moto's S3 server (``S3Blobs``)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from studio.domain.errors import InputError, StoreError
from studio.storage.blob_cache import BlobCache
from studio.storage.blobs import BlobMissing, LocalBlobs, open_blobs
from tests.factories import make_image
from tests.servers import S3_ENV


@pytest.fixture
def s3_env(s3, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    return s3


@pytest.fixture(params=["files", "s3"])
def blobs(request, tmp_path):
    if request.param == "files":
        return LocalBlobs(tmp_path / "storage")
    s3 = request.getfixturevalue("s3_env")
    bucket = s3.create_bucket()
    return open_blobs(f"s3://{bucket}/team/a", tmp_path, endpoint_url=s3.endpoint_url)


def _key(data: bytes, ext: str = "png") -> str:
    sha = hashlib.sha256(data).hexdigest()
    return f"images/{sha[:2]}/{sha}.{ext}"


def test_put_get_roundtrip_and_listing(blobs):
    data = make_image(320, 200)
    key = _key(data)
    assert not blobs.exists(key) and blobs.size(key) is None
    assert blobs.put(key, data) is True
    assert blobs.get(key) == data
    assert blobs.exists(key) and blobs.size(key) == len(data)
    blobs.put("turns/x.json", b"{}")
    assert sorted(blobs.list("images/")) == [key]
    assert sorted(blobs.list()) == sorted([key, "turns/x.json"])


def test_content_addressed_put_is_idempotent(blobs):
    data = make_image(64, 64)
    key = _key(data)
    assert blobs.put(key, data) is True
    assert blobs.put(key, data) is False  # already there with the same size: not sent again
    assert blobs.get(key) == data
    # a key that is not a hash is overwritten atomically
    blobs.put("journal/7.json", b"one")
    assert blobs.put("journal/7.json", b"two") is True
    assert blobs.get("journal/7.json") == b"two"


def test_stream_reads_in_chunks(blobs):
    data = os.urandom(300_000)  # an original's worth of incompressible bytes
    key = _key(data)
    blobs.put(key, data)
    with blobs.open(key) as f:
        chunks = []
        while chunk := f.read(64 * 1024):
            assert len(chunk) <= 64 * 1024
            chunks.append(chunk)
    assert len(chunks) > 1 and b"".join(chunks) == data


def test_delete_and_missing(blobs):
    blobs.put("thumbs/ab/x.jpg", b"jpeg")
    blobs.delete("thumbs/ab/x.jpg")
    blobs.delete("thumbs/ab/x.jpg")  # absent is fine
    assert not blobs.exists("thumbs/ab/x.jpg")
    with pytest.raises(BlobMissing, match="studio doctor"):
        blobs.get("thumbs/ab/x.jpg")


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../up", "a/../../b", "a//b", "a\\b"])
def test_keys_cannot_escape(blobs, bad):
    with pytest.raises(InputError):
        blobs.put(bad, b"x")


def test_locator(blobs, tmp_path):
    key = "images/ab/" + "ab" * 32 + ".png"
    if blobs.mode == "files":
        assert blobs.locator(key) == str((tmp_path / "storage" / key).resolve())
        assert blobs.local_path(key) == (tmp_path / "storage" / key).resolve()
    else:
        assert blobs.locator(key) == f"s3://{blobs.bucket}/team/a/{key}"
        assert blobs.local_path(key) is None
        # the prefix is really used in the bucket
        blobs.put(key, b"x")
        keys = [o["Key"] for o in blobs.client.list_objects_v2(Bucket=blobs.bucket)["Contents"]]
        assert keys == [f"team/a/{key}"]


def test_missing_bucket_is_a_sentence(s3_env, tmp_path):
    blobs = open_blobs("s3://no-such-bucket-here/p", tmp_path, endpoint_url=s3_env.endpoint_url)
    with pytest.raises(StoreError, match="bucket no-such-bucket-here does not exist") as err:
        blobs.put("turns/a.json", b"{}")
    assert "Traceback" not in str(err.value) and "nothing already saved was lost" in str(err.value)


def test_unreachable_endpoint_is_a_sentence(s3_env, tmp_path, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    url = f"http://127.0.0.1:{free_port()}"
    blobs = open_blobs("s3://b/p", tmp_path, endpoint_url=url)
    with pytest.raises(StoreError, match="cannot be reached.*STUDIO_S3_ENDPOINT_URL"):
        blobs.get("thumbs/ab/x.jpg")


def test_denied_is_a_sentence(s3_env, tmp_path, monkeypatch):
    """moto checks signatures only with auth enabled; a policy denial is the same ClientError path."""
    from botocore.exceptions import ClientError

    from studio.storage.s3_blobs import S3Blobs

    blobs = S3Blobs("s3://b/p", endpoint_url=s3_env.endpoint_url)
    denied = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "Put"
    )
    err = blobs._error(denied, "thumbs/x.jpg", "write to")
    assert "access denied" in str(err) and "AWS_ACCESS_KEY_ID" in str(err)
    from botocore.exceptions import ReadTimeoutError

    late = blobs._error(ReadTimeoutError(endpoint_url=s3_env.endpoint_url), "images/x.png", "read")
    assert "did not answer in time" in str(late) and "nothing already saved was lost" in str(late)


# -- the bounded cache ----------------------------------------------------------------------------


class Counter:
    """Counts the requests boto3 really sends (a botocore event hook on the real client)."""

    def __init__(self, client):
        self.calls: list[str] = []
        client.meta.events.register("before-send.s3", self._seen)

    def _seen(self, request, **_):
        self.calls.append(request.method)


def test_cache_fetches_a_thumbnail_once(s3_env, tmp_path):
    bucket = s3_env.create_bucket()
    blobs = open_blobs(f"s3://{bucket}/p", tmp_path, endpoint_url=s3_env.endpoint_url)
    thumbs = [make_image(40 + i, 30) for i in range(3)]
    keys = [f"thumbs/{hashlib.sha256(t).hexdigest()[:2]}/{hashlib.sha256(t).hexdigest()}.jpg" for t in thumbs]
    for k, t in zip(keys, thumbs, strict=True):
        blobs.put(k, t)
    cache = BlobCache(tmp_path / "cache", blobs)
    counter = Counter(blobs.client)
    for _rerun in range(5):  # History reruns: the same page of thumbnails each time
        assert [cache.get(k) for k in keys] == thumbs
    assert counter.calls == ["GET"] * 3  # one fetch per thumbnail, then only the local copies


def test_cache_is_bounded_lru(s3_env, tmp_path):
    bucket = s3_env.create_bucket()
    blobs = open_blobs(f"s3://{bucket}/p", tmp_path, endpoint_url=s3_env.endpoint_url)
    data = {f"thumbs/ab/{i}.jpg": bytes([i]) * 1000 for i in range(5)}
    for k, v in data.items():
        blobs.put(k, v)
    cache = BlobCache(tmp_path / "cache", blobs, max_bytes=3000)
    for i, k in enumerate(data):
        cache.get(k)
        os.utime(cache.path(k), (time.time() + i, time.time() + i))  # distinct ages on coarse clocks
    assert cache.total() <= 3000
    kept = sorted(p.name for p in (tmp_path / "cache" / "thumbs" / "ab").iterdir())
    assert kept == ["2.jpg", "3.jpg", "4.jpg"]  # the least recently used went first
    counter = Counter(blobs.client)
    assert cache.get("thumbs/ab/0.jpg") == data["thumbs/ab/0.jpg"]  # evicted: fetched again
    assert counter.calls == ["GET"]


def test_two_processes_sharing_a_cache_keep_it_under_one_bound(s3_env, tmp_path, monkeypatch):
    """Two studio processes on one data directory each count what they add; each measures the folder
    again now and then (here: every add) and before evicting, so together they stay under the bound."""
    from studio.storage import blob_cache

    monkeypatch.setattr(blob_cache, "REMEASURE_S", 0.0)
    bucket = s3_env.create_bucket()
    blobs = open_blobs(f"s3://{bucket}/p", tmp_path, endpoint_url=s3_env.endpoint_url)
    data = {f"thumbs/cd/{i}.jpg": bytes([i]) * 1000 for i in range(8)}
    for k, v in data.items():
        blobs.put(k, v)
    first = BlobCache(tmp_path / "cache", blobs, max_bytes=3000)
    second = BlobCache(tmp_path / "cache", blobs, max_bytes=3000)
    for i, k in enumerate(data):
        (first if i % 2 else second).get(k)  # the two take turns filling the one folder
        on_disk = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*.jpg"))
        assert on_disk <= 3000, f"after {i + 1} adds the shared cache holds {on_disk} bytes"


def test_cache_size_from_env(monkeypatch, tmp_path):
    from studio.storage.blob_cache import limit_from_env

    monkeypatch.setenv("STUDIO_CACHE_MB", "2")
    assert limit_from_env() == 2 * 1024 * 1024
    monkeypatch.setenv("STUDIO_CACHE_MB", "lots")
    assert limit_from_env() == 1024 * 1024 * 1024


def test_no_credentials_is_a_sentence(s3, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask on this machine
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    blobs = open_blobs("s3://b/p", tmp_path, endpoint_url=s3.endpoint_url)
    with pytest.raises(StoreError, match="No credentials for s3://b/p/.*AWS_ACCESS_KEY_ID"):
        blobs.put("turns/a.json", b"{}")
