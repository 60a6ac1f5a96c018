"""Make ``tests/data/studio-v7.db``: a history written by Studio before Alembic (legacy schema 7).

Run it with the pre-Alembic code on the path, e.g. from a checkout of commit e4ed641::

    git archive e4ed641 studio | tar -x -C /tmp/v7 && PYTHONPATH=/tmp/v7 python tests/data/make_v7_db.py

It uses only that code's public store API (no SQL of its own), so the file is exactly what a designer's
studio left on disk: generations with images and a model turn, tags, a board, a run, a template, a
favourite, a rating, one in the trash and one interrupted. ``test_migrations_alembic.py`` upgrades a copy
in place and checks every row survives and is searchable.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from PIL import Image

from studio.domain.requests import ImagePart, Outcome
from studio.storage import Store

OUT = Path(__file__).with_name("studio-v7.db")


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp)
    made = []
    for n, (prompt, colour) in enumerate(
        [
            ("three teapots on a bakery shelf", (200, 30, 30)),
            ("a running fox in the snow", (30, 200, 30)),
            ("portrait of a painted lighthouse", (30, 30, 200)),
            ("an organic vegetable market at dawn", (90, 90, 20)),
        ]
    ):
        gen = store.generations.create_pending(
            prompt=prompt,
            model="gemini-2.5-flash-image",
            settings={"aspect_ratio": ["1:1", "16:9"][n % 2], "image_size": "1K"},
            owner="proc-v7",
        )
        outcome = Outcome(
            images=[ImagePart(png(colour), "image/png")],
            text=f"Here is {prompt}.",
            finish_reason="STOP",
            usage={"promptTokenCount": 10, "candidatesTokenCount": 1290, "totalTokenCount": 1300},
            model_content={"role": "model", "parts": [{"text": prompt, "thoughtSignature": "c2ln"}]},
        )
        store.generations.save_success(gen, outcome, latency_ms=1000 + n, cost_usd=0.039)
        made.append(gen)
    store.organise.add_tags(made[:2], ["Warm", "keep"])
    board = store.organise.create_collection("Moodboard")
    store.organise.add_to_collection(made[1:3], board)
    store.organise.set_favourite([made[0]], True)
    store.organise.set_rating([made[2]], 4)
    run = store.runs.create(kind="matrix", name="teapot grid", spec={"prompt": "teapot {colour}"})
    in_run = store.generations.create_pending(
        prompt="a blue teapot", model="gemini-2.5-flash-image", settings={}, owner="proc-v7", run_id=run
    )
    store.generations.set_status(in_run, "interrupted")
    store.templates.insert(kind="template", name="Product shot", body="a {thing} on white", tags=["shop"])
    store.trash_bin.trash([made[3]])
    store.close()
    con = sqlite3.connect(tmp / "studio.db")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("VACUUM")
    version = con.execute("PRAGMA user_version").fetchone()[0]
    con.close()
    if version != 7:
        sys.exit(f"expected the legacy schema 7, got {version}: run this with the pre-Alembic code")
    shutil.copyfile(tmp / "studio.db", OUT)
    shutil.rmtree(tmp)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
