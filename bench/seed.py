"""Fill a data directory's history fast, for the gallery benchmarks: ``python -m bench.seed DIR ROWS``.

The schema is whatever ``Store`` creates: we open a Store once on the empty directory, close it, then
bulk-insert with raw ``sqlite3`` (executemany, big transactions, synchronous off while loading). The
FTS insert triggers are dropped for the load and the indexes rebuilt once at the end, then the triggers are
re-created from their own saved SQL, so the finished file is exactly what the Store would have made.
Prompts are realistic (subject + setting + style + light + details, Zipf-weighted vocabulary); one
word in 10,000 rows is rare ("axolotl") and "light" is common, for the search benchmarks. Succeeded
rows link to a small set of real image + thumbnail files.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

COMMON_WORD, RARE_WORD = "light", "axolotl"
RARE_EVERY = 10_000
ASSET_COUNT = 24
BATCH = 50_000

SUBJECTS = (
    "a red fox",
    "an old lighthouse",
    "a cyberpunk street",
    "a bowl of ramen",
    "a mountain cabin",
    "a portrait of a woman",
    "a vintage car",
    "a koi pond",
    "a robot gardener",
    "a desert caravan",
    "a glass teapot",
    "a city skyline",
    "a sleeping cat",
    "a sailing ship",
    "a sunflower field",
    "a medieval castle",
    "a jazz musician",
    "a bamboo forest",
    "a space station",
    "a bakery window",
)
SETTINGS = (
    "at dusk",
    "in the rain",
    "under a starry sky",
    "on a foggy morning",
    "in autumn",
    "at noon",
    "in a snowstorm",
    "by the sea",
    "in a neon-lit alley",
    "inside a greenhouse",
)
STYLES = (
    "oil painting",
    "watercolour",
    "35mm photograph",
    "isometric 3D render",
    "ink sketch",
    "studio photograph",
    "anime illustration",
    "cinematic still",
    "paper cut-out",
    "pixel art",
)
LIGHT = (
    "soft golden light",
    "dramatic rim light",
    "diffuse overcast light",
    "warm candle light",
    "cold moonlight",
    "harsh midday sun",
)
DETAILS = (
    "highly detailed",
    "shallow depth of field",
    "wide angle",
    "muted palette",
    "vivid colours",
    "film grain",
    "symmetrical composition",
    "bokeh",
    "long exposure",
    "high contrast",
    "minimalist",
    "intricate textures",
    "volumetric fog",
    "reflections",
    "8k",
)
MODELS = (
    ("gemini-2.5-flash-image", 40),
    ("gemini-3-pro-image", 30),
    ("gemini-3.1-flash-image", 25),
    ("gemini-3.1-flash-lite-image", 5),
)
STATUSES = (("succeeded", 90), ("failed", 5), ("blocked", 3), ("no_image", 2))
RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:2")

_COLUMNS = (
    "created_at",
    "updated_at",
    "status",
    "prompt",
    "model",
    "settings_json",
    "text",
    "error_kind",
    "error_message",
    "usage_json",
    "prompt_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "latency_ms",
    "variant_index",
    "owner",
    "finish_reason",
)


def _zipf(rng: random.Random, items: tuple[str, ...]) -> str:
    weights = [1 / (i + 1) for i in range(len(items))]
    return rng.choices(items, weights)[0]


def prompt(rng: random.Random, index: int) -> str:
    words = [_zipf(rng, SUBJECTS), _zipf(rng, SETTINGS), _zipf(rng, STYLES)]
    if rng.random() < 0.3:
        words.append(_zipf(rng, LIGHT))
    words += rng.sample(DETAILS, rng.randint(1, 4))
    if index % RARE_EVERY == RARE_EVERY // 2:
        words.append(f"with an {RARE_WORD}")
    return ", ".join(words)


def _row(rng: random.Random, index: int, start: datetime) -> tuple:
    created = (start + timedelta(seconds=index * 7)).isoformat(timespec="microseconds")
    status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
    settings = {
        "model": model,
        "aspect_ratio": rng.choice(RATIOS),
        "image_size": "1K",
        "variants": 1,
        "modalities": ["IMAGE"],
        "seed": None,
        "reference_roles": [],
    }
    ok = status == "succeeded"
    usage = {"promptTokenCount": 40, "candidatesTokenCount": 1290 if ok else 0, "totalTokenCount": 1330}
    error = None if ok else (status, "The model did not return an image.")
    return (
        created,
        created,
        status,
        prompt(rng, index),
        model,
        json.dumps(settings),
        "",
        error and error[0],
        error and error[1],
        json.dumps(usage),
        40,
        1290 if ok else 0,
        1330,
        0.039 if ok else None,
        rng.randint(4000, 40000),
        0,
        "seed:0:bench",
        "STOP" if ok else "NO_IMAGE",
    )


def _assets(data_dir: Path) -> list[tuple]:
    """A few real originals + thumbnails on disk, named the way the Store names them."""
    from PIL import Image

    from studio.storage import files

    out = []
    for i in range(ASSET_COUNT):
        im = Image.new("RGB", (768, 768), (40 + 8 * i, 90, 200 - 6 * i))
        original = io.BytesIO()
        im.save(original, "PNG", compress_level=1)
        data = original.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        rel, thumb_rel = files.image_relpath(sha, "image/png"), files.thumb_relpath(sha)
        thumb = io.BytesIO()
        im.resize((384, 384)).save(thumb, "JPEG", quality=85)
        for path, blob in ((rel, data), (thumb_rel, thumb.getvalue())):
            (data_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (data_dir / path).write_bytes(blob)
        out.append((sha, "image/png", 768, 768, len(data), rel, thumb_rel, "2025-01-01T00:00:00+00:00"))
    return out


def _fts_triggers(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """The FTS triggers on INSERT into generation (name, SQL), as the migrations created them (one per
    full-text index: stemmed and unstemmed since m007)."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='generation' "
        "AND sql LIKE '%AFTER INSERT%' AND sql LIKE '%_fts%'"
    ).fetchall()
    if not rows:
        raise RuntimeError("expected an FTS insert trigger on generation, found none")
    return rows


def _fts_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE '%USING fts5%'"
    ).fetchall()
    return [r[0] for r in rows]


def seed(data_dir: Path, rows: int, *, seed_value: int = 7, log=None) -> Path:
    """Create the Store's schema in the empty ``data_dir`` and bulk-insert ``rows`` generations."""
    from studio.storage import Store

    data_dir = Path(data_dir)
    Store(data_dir).close()
    db = data_dir / "studio.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        if conn.execute("SELECT count(*) FROM generation").fetchone()[0]:
            raise RuntimeError(f"{db} already holds generations; seed an empty directory")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB page cache while loading
        triggers = _fts_triggers(conn)
        indexes = _fts_tables(conn)
        rng = random.Random(seed_value)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        conn.execute("BEGIN IMMEDIATE")
        for trigger_name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{trigger_name}"')
        conn.executemany(
            "INSERT INTO asset (sha256, mime_type, width, height, bytes, path, thumb_path, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            _assets(data_dir),
        )
        asset_ids = [r[0] for r in conn.execute("SELECT id FROM asset ORDER BY id")]
        insert = f"INSERT INTO generation ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        started = time.perf_counter()
        for first in range(0, rows, BATCH):
            batch = [_row(rng, i, start) for i in range(first, min(rows, first + BATCH))]
            conn.executemany(insert, batch)
            conn.execute(
                "INSERT INTO generation_asset (generation_id, role, position, asset_id) "
                "SELECT id, 'output', 0, ? + (id % ?) FROM generation WHERE id > ? AND status='succeeded'",
                (asset_ids[0], len(asset_ids), first),
            )
            if log:
                log(f"seeded {first + len(batch):,} / {rows:,} rows ({time.perf_counter() - started:.0f} s)")
        for fts in indexes:
            conn.execute(f'INSERT INTO "{fts}" ("{fts}") VALUES (\'rebuild\')')
        for _, trigger_sql in triggers:
            conn.execute(trigger_sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return db


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print("usage: python -m bench.seed DATA_DIR ROWS", file=sys.stderr)
        return 2
    seed(Path(args[0]), int(args[1]), log=print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
