"""Save overhead of a 4K image in a bucket vs in the local folder (issue 13: goal ≤ 0.1 s per image over local),
and the requests a History rerun sends to the bucket (goal: none, thanks to the local cache).

The bucket is moto's S3 server on loopback (a Python server: its own PUT handling is most of the figure, so
the overhead on a real store is a network transfer instead). ``python -m bench --only blob_save``.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row, skipped

GOAL_S = 0.1


def _png_4k(seed: int) -> bytes:
    from PIL import Image

    im = Image.effect_noise((3840, 2160), 40 + seed).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _saves(store: Any, datas: list[bytes]) -> list[float]:
    from tests.service.test_s3_store import outcome

    out = []
    for data in datas:
        gen = store.generations.create_pending(prompt="bench", settings={}, owner="bench", model="m")
        started = time.perf_counter()
        store.generations.save_success(gen, outcome(data), latency_ms=1, cost_usd=None)
        out.append(time.perf_counter() - started)
    return out


def _bare_puts(s3: Any, datas: list[bytes]) -> list[float]:
    """The floor: one boto3 ``put_object`` of the same bytes to the same server, nothing else."""
    import hashlib

    client, bucket = s3.client(), s3.create_bucket()
    out = []
    for data in datas:
        key = f"bench/images/{hashlib.sha256(data).hexdigest()}.png"
        started = time.perf_counter()
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/png")
        out.append(time.perf_counter() - started)
    return out


def run(quick: bool = False, **_: Any) -> list[Row]:
    try:
        from tests.servers import S3_ENV, s3_server
    except ImportError as exc:  # moto[server] is a dev dependency
        return [skipped("blob_save.save_4k.bucket_overhead", str(exc))]
    from studio.storage import Store

    os.environ.update({k: os.environ.get(k, v) for k, v in S3_ENV.items()})
    datas = [_png_4k(i) for i in range(2 if quick else 5)]
    folder: list[float] = []
    bucket: list[float] = []
    floor: list[float] = []
    sent: list[str] = []
    with s3_server() as s3:
        for _round in range(2):  # interleaved, so load on the machine hits both sides alike
            for side in ("files", "s3"):
                data_dir = Path(tempfile.mkdtemp(prefix="bench-blob-"))
                url = f"s3://{s3.create_bucket()}/bench" if side == "s3" else None
                store = Store(data_dir, storage_url=url, s3_endpoint_url=s3.endpoint_url if url else None)
                try:
                    (bucket if url else folder).extend(_saves(store, datas))
                    if url:
                        store.gallery.page(limit=48)
                        store.files.blobs.client.meta.events.register(  # type: ignore[attr-defined]
                            "before-send.s3", lambda request, **_: sent.append(request.method)
                        )
                        for _rerun in range(5):
                            store.gallery.page(limit=48)
                finally:
                    store.close()
            floor.extend(_bare_puts(s3, datas))
    local, remote, put = statistics.median(folder), statistics.median(bucket), statistics.median(floor)
    mb = statistics.median(len(d) for d in datas) / 1e6
    return [
        Row(
            "blob_save.save_4k.bucket_overhead",
            remote - local,
            "s",
            "bare boto3 put_object, same bytes",
            put,
            f"≤ {GOAL_S} s",
            remote - local <= GOAL_S,
            note=f"{mb:.1f} MB PNG; bucket p50 {remote:.3f} s, folder p50 {local:.3f} s (moto on loopback)",
            extra={"bucket": bucket, "folder": folder, "bare_put": floor},
        ),
        Row(
            "blob_save.save_4k.overhead_beyond_put",
            max(remote - local - put, 1e-6),
            "s",
            "",
            None,
            f"≤ {GOAL_S} s",
            remote - local - put <= GOAL_S,
            note="bucket save - folder save - moto's bare PUT of the same bytes: what Studio adds to one transfer",
        ),
        Row(
            "blob_save.history_rerun.bucket_requests",
            float(len(sent)),
            "requests",
            "5 reruns of a page",
            None,
            "0",
            not sent,
            note="requests sent during 5 reruns of the first History page, after one warm page",
        ),
    ]
