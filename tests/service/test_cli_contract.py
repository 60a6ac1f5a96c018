"""The `studio` command's `--json` shapes and the export manifest are a public contract: keys and types.

Adding a key is allowed (then add it here); renaming or retyping one breaks scripts that read the output.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from studio import cli

NULLABLE_STR = (str, type(None))
NULLABLE_INT = (int, type(None))
NULLABLE_NUMBER = (int, float, type(None))
NULLABLE_DICT = (dict, type(None))

#: `studio generate --json`, `studio batch --json` and `studio history --json`: one object per line.
RECORD = {
    "id": int,
    "status": str,
    "model": str,
    "prompt": str,
    "finish_reason": NULLABLE_STR,
    "block_reason": NULLABLE_STR,
    "text": str,
    "images": list,
    "usage": dict,
    "error": NULLABLE_DICT,
    "created_at": str,
    "settings": dict,
    "latency_ms": NULLABLE_INT,
    "cost_usd": NULLABLE_NUMBER,
    "parent_id": NULLABLE_INT,
    "favourite": bool,
    "rating": NULLABLE_INT,
    "tags": list,
    "composition": NULLABLE_DICT,
    "author": NULLABLE_STR,  # issue 14: who made it ("local" without sign-in; null before team accounts)
    "private": bool,
}
IMAGE = {"path": str, "sha256": str, "mime_type": str, "width": int, "height": int}
ERROR = {"kind": str, "message": str}

MANIFEST = {"format": str, "version": int, "exported_at": str, "generations": list}
MANIFEST_GENERATION = {
    "id": int,
    "key": str,
    "prompt": str,
    "model": str,
    "settings": dict,
    "composition": NULLABLE_DICT,
    "status": str,
    "text": str,
    "thoughts_text": str,
    "finish_reason": NULLABLE_STR,
    "block_reason": NULLABLE_STR,
    "error_kind": NULLABLE_STR,
    "error_message": NULLABLE_STR,
    "usage": dict,
    "cost_usd": NULLABLE_NUMBER,
    "latency_ms": NULLABLE_INT,
    "created_at": str,
    "tags": list,
    "favourite": bool,
    "private": bool,  # issue 14: seen only by its author and admins; kept through export and import
    "rating": NULLABLE_INT,
    "parent": NULLABLE_INT,
    "images": list,
    "thought_images": list,
    "references": list,
}
MANIFEST_IMAGE = {"sha256": str, "mime_type": str, "path": str, "width": int, "height": int}

DOCTOR = {
    "ok": bool,
    "integrity": str,
    "problems": list,
    "repaired": int,
    "backup": NULLABLE_STR,
    "data_dir": str,
}


def assert_shape(obj: dict, shape: dict, what: str) -> None:
    assert set(obj) == set(shape), f"{what}: keys changed"
    for key, kind in shape.items():
        assert isinstance(obj[key], kind), f"{what}[{key!r}] is {type(obj[key]).__name__}"
        assert not (kind is int and isinstance(obj[key], bool)), f"{what}[{key!r}] is a bool"


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_generate_and_history_json_records(studio_env, capsys):
    assert cli.main(["generate", "a contract lighthouse", "--json"]) == 0
    assert cli.main(["generate", "a contract failure [[fault:no_image]]", "--json"]) == 1
    generated = _lines(capsys)
    assert cli.main(["history", "--json"]) == 0
    listed = _lines(capsys)
    assert [r["id"] for r in listed] == [r["id"] for r in reversed(generated)]  # newest first
    for row in generated + listed:
        assert_shape(row, RECORD, "record")
        for image in row["images"]:
            assert_shape(image, IMAGE, "record image")
        if row["error"] is not None:
            assert_shape(row["error"], ERROR, "record error")
    ok, failed = generated
    assert ok["status"] == "succeeded" and len(ok["images"]) == 1 and ok["error"] is None
    assert failed["status"] == "no_image" and failed["error"]["kind"] == "no_image"


def test_export_manifest(studio_env, capsys, tmp_path: Path):
    assert cli.main(["generate", "a contract teapot"]) == 0
    out = tmp_path / "export.zip"
    assert cli.main(["export", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert_shape(manifest, MANIFEST, "manifest")
    assert (manifest["format"], manifest["version"]) == ("studio-export", 1)
    [generation] = manifest["generations"]
    assert_shape(generation, MANIFEST_GENERATION, "manifest generation")
    [image] = generation["images"]
    assert_shape(image, MANIFEST_IMAGE, "manifest image")


def test_doctor_json(studio_env, capsys):
    assert cli.main(["generate", "a contract kite"]) == 0
    capsys.readouterr()
    assert cli.main(["doctor", "--json"]) == 0
    [report] = _lines(capsys)
    assert_shape(report, DOCTOR, "doctor report")
    assert report["ok"] is True and report["problems"] == []


def test_services_do_not_import_the_cli():
    """The layers point one way: the CLI calls services, never the reverse (this was a cycle with batch)."""
    code = (
        "import sys, pkgutil, importlib, studio.services as s\n"
        "for m in pkgutil.iter_modules(s.__path__): importlib.import_module(f'studio.services.{m.name}')\n"
        "print(sorted(m for m in sys.modules if m.startswith('studio.cli')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
