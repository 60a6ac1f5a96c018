"""The emulator over real HTTP on 127.0.0.1, read with httpx directly (not with the studio's client)."""

from __future__ import annotations

import argparse
import base64
import io
import json
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from PIL import Image

from studio.domain import catalogue
from studio.emulator import FAULTS, SKIP_SIGNATURE, Emulator, add_arguments

KEY = "test-key-123"
RETRY_DELAY = 2.5
SIG_BYTES = 256
PRO, FLASH31, FLASH25, TEXT = (
    "gemini-3-pro-image",
    "gemini-3.1-flash-image",
    "gemini-2.5-flash-image",
    "gemini-2.5-flash",
)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(key=KEY, retry_delay=RETRY_DELAY, signature_bytes=SIG_BYTES, stall_seconds=30) as server:
        yield server


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, headers={"x-goog-api-key": KEY}, timeout=20) as c:
        yield c


def unique(prompt: str = "a lighthouse at dusk") -> str:
    return f"{prompt} {uuid.uuid4().hex[:8]}"


def body(
    prompt: str,
    *,
    ratio: str | None = None,
    size: str | None = None,
    history: list | None = None,
    references: list[bytes] = (),
    **config,
) -> dict:  # type: ignore[assignment]
    image_config = {k: v for k, v in (("aspectRatio", ratio), ("imageSize", size)) if v}
    if image_config:
        config["imageConfig"] = image_config
    parts: list[dict] = [{"text": prompt}]
    parts += [
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(r).decode()}} for r in references
    ]
    return {"contents": [*(history or []), {"role": "user", "parts": parts}], "generationConfig": config}


def generate(client: httpx.Client, model: str, payload: dict, **kw) -> httpx.Response:
    return client.post(f"/v1beta/models/{model}:generateContent", json=payload, **kw)


def parts_of(data: dict) -> list[dict]:
    return data["candidates"][0]["content"]["parts"]


def decode(part: dict) -> Image.Image:
    im = Image.open(io.BytesIO(base64.b64decode(part["inlineData"]["data"])))
    im.load()
    return im


def png(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("mode", ["goog", "bearer", "query"])
def test_each_auth_mode_is_accepted_and_the_key_is_never_recorded(emu: Emulator, mode: str) -> None:
    headers, params = {}, {}
    if mode == "goog":
        headers["x-goog-api-key"] = KEY
    elif mode == "bearer":
        headers["Authorization"] = f"Bearer {KEY}"
    else:
        params["key"] = KEY
    prompt = unique()
    r = httpx.post(
        f"{emu.url}/v1beta/models/{FLASH25}:generateContent",
        json=body(prompt, responseModalities=["TEXT"]),
        headers=headers,
        params=params,
        timeout=20,
    )
    assert r.status_code == 200, r.text
    record = next(rec for rec in emu.requests if rec["body"] and prompt in json.dumps(rec["body"]))
    assert record["auth_mode"] == mode
    assert record["model"] == FLASH25 and record["method"] == "POST"
    assert KEY not in json.dumps(emu.requests, default=str)


def test_missing_key_is_google_403(emu: Emulator) -> None:
    r = httpx.post(f"{emu.url}/v1beta/models/{FLASH25}:generateContent", json=body("x"))
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["status"] == "PERMISSION_DENIED" and "unregistered callers" in error["message"]


def test_wrong_key_is_google_400_api_key_invalid(emu: Emulator) -> None:
    r = httpx.post(
        f"{emu.url}/v1beta/models/{FLASH25}:generateContent",
        json=body("x"),
        headers={"x-goog-api-key": "nope"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert any(d.get("reason") == "API_KEY_INVALID" for d in error["details"])


def test_without_a_configured_key_any_key_works() -> None:
    with Emulator() as open_emu:
        r = httpx.post(
            f"{open_emu.url}/v1/models/{TEXT}:generateContent",
            json=body("hi"),
            headers={"Authorization": "Bearer whatever"},
        )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    assert r.text.startswith('{\n  "candidates"')  # pretty-printed like Google


# ---------------------------------------------------------------------------------------------- routes


def test_unknown_model_and_path_are_404(client: httpx.Client) -> None:
    r = generate(client, "imagen-9", body("x"))
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith(
        "models/imagen-9 is not found for API version v1beta, or is not supported for generateContent."
    )
    r = client.get("/v1beta/nothing/here")
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_model_listing_and_metadata(client: httpx.Client) -> None:
    names = {m["name"] for m in client.get("/v1beta/models").json()["models"]}
    assert {f"models/{m}" for m in catalogue.MODELS} <= names
    assert client.get(f"/v1beta/models/{PRO}").json()["name"] == f"models/{PRO}"
    assert client.get("/v1beta/models/not-a-model").status_code == 404


def test_malformed_request_json_is_400(client: httpx.Client) -> None:
    r = client.post(
        f"/v1beta/models/{FLASH25}:generateContent",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    r = generate(client, FLASH25, {"contents": []})
    assert r.status_code == 400


def test_chunked_request_body_is_read(client: httpx.Client) -> None:
    raw = json.dumps(body(unique(), responseModalities=["TEXT"])).encode()
    r = client.post(f"/v1beta/models/{FLASH25}:generateContent", content=iter([raw[:10], raw[10:]]))
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------------------------- images


def _size_cases() -> list[tuple[str, str, str]]:
    cases = [(m, s.ratios[-1], size) for m, s in catalogue.MODELS.items() for size in (s.sizes or ("1K",))]
    cases += [(FLASH31, ratio, "512") for ratio in catalogue.MODELS[FLASH31].ratios]
    return cases


@pytest.mark.parametrize(("model", "ratio", "size"), _size_cases())
def test_image_pixels_and_mime_match_the_catalogue(
    client: httpx.Client, model: str, ratio: str, size: str
) -> None:
    spec = catalogue.MODELS[model]
    send_size = size if spec.sizes else None
    r = generate(
        client, model, body("a red bicycle", ratio=ratio, size=send_size, responseModalities=["IMAGE"])
    )
    assert r.status_code == 200, r.text
    [part] = parts_of(r.json())
    assert part["inlineData"]["mimeType"] == spec.output_mime
    im = decode(part)
    assert im.size == spec.pixel_size(ratio, size)
    assert im.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[spec.output_mime]


@pytest.mark.parametrize(
    ("model", "ratio", "size", "culprit"),
    [
        (PRO, "8:1", "1K", "8:1"),  # extreme ratios are 3.1-only
        (PRO, "1:1", "512", "512"),  # 512 is 3.1 Flash only
        (FLASH25, "1:1", "2K", "2K"),  # 2.5 is 1K only
        (FLASH31, "1:1", "1k", "1k"),  # lowercase k is rejected by Google
        (FLASH25, "7:5", None, "7:5"),
    ],
)
def test_unsupported_ratio_or_size_is_400(
    client: httpx.Client, model: str, ratio: str, size: str | None, culprit: str
) -> None:
    r = generate(client, model, body("x", ratio=ratio, size=size))
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert f"'{culprit}'" in r.json()["error"]["message"]


def test_explicit_1k_is_fine_on_a_model_without_sizes(client: httpx.Client) -> None:
    assert generate(client, FLASH25, body("x", size="1K", responseModalities=["IMAGE"])).status_code == 200


def test_modalities_are_honoured(client: httpx.Client) -> None:
    default = parts_of(generate(client, FLASH25, body("a teapot")).json())
    assert [("text" in p, "inlineData" in p) for p in default] == [(True, False), (False, True)]
    assert default[0]["text"].startswith("Here is")
    image_only = parts_of(generate(client, FLASH25, body("a teapot", responseModalities=["IMAGE"])).json())
    assert [list(p) for p in image_only] == [["inlineData"]]


def test_rendering_is_deterministic_in_prompt_and_seed(client: httpx.Client) -> None:
    def image(seed: int) -> str:
        data = generate(client, FLASH25, body("a blue kite", seed=seed, responseModalities=["IMAGE"])).json()
        return parts_of(data)[0]["inlineData"]["data"]

    assert image(1) == image(1)
    assert image(1) != image(2)


def test_usage_metadata(client: httpx.Client) -> None:
    data = generate(client, PRO, body("a fox", size="4K")).json()
    usage = data["usageMetadata"]
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 2000}]
    assert usage["candidatesTokenCount"] > 2000  # image plus the text part
    assert usage["thoughtsTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )
    assert usage["serviceTier"] == "standard"
    assert data["modelVersion"] == PRO and data["responseId"]
    assert data["candidates"][0]["finishReason"] == "STOP" and data["candidates"][0]["index"] == 0
    flash = generate(client, FLASH25, body("a fox")).json()["usageMetadata"]
    assert "thoughtsTokenCount" not in flash
    assert flash["candidatesTokensDetails"][0]["tokenCount"] == 1290


@pytest.mark.parametrize(("model", "per_image"), [(FLASH25, 258), (PRO, 560), (FLASH31, 1120)])
def test_reference_images_count_as_prompt_tokens_and_are_drawn(
    client: httpx.Client, model: str, per_image: int
) -> None:
    plain = generate(client, model, body("a vase", seed=3, responseModalities=["IMAGE"])).json()
    with_refs = generate(
        client,
        model,
        body("a vase", seed=3, references=[png(), png((0, 0, 250))], responseModalities=["IMAGE"]),
    ).json()
    delta = with_refs["usageMetadata"]["promptTokenCount"] - plain["usageMetadata"]["promptTokenCount"]
    assert delta == 2 * per_image
    assert parts_of(plain)[0]["inlineData"]["data"] != parts_of(with_refs)[0]["inlineData"]["data"]


def test_bad_reference_images_are_400(client: httpx.Client) -> None:
    payload = body("x")
    payload["contents"][-1]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": "bm90IGFuIGltYWdl"}}
    )
    assert generate(client, FLASH25, payload).status_code == 400
    payload = body("x")
    payload["contents"][-1]["parts"].append({"inlineData": {"mimeType": "image/gif", "data": "R0lG"}})
    r = generate(client, FLASH25, payload)
    assert r.status_code == 400 and "image/gif" in r.json()["error"]["message"]


# ---------------------------------------------------------------------------------------------- signatures


def _model_turn(client: httpx.Client, model: str, prompt: str) -> tuple[list[dict], dict]:
    first = body(prompt)
    data = generate(client, model, first).json()
    return first["contents"], data["candidates"][0]["content"]


def test_gemini3_parts_are_signed_and_2_5_parts_are_not(client: httpx.Client) -> None:
    _, content = _model_turn(client, FLASH31, unique())
    assert [len(base64.b64decode(p["thoughtSignature"])) for p in content["parts"]] == [SIG_BYTES, SIG_BYTES]
    _, content = _model_turn(client, FLASH25, unique())
    assert not any("thoughtSignature" in p for p in content["parts"])


def _edit(client: httpx.Client, model: str, history: list[dict], model_turn: dict) -> httpx.Response:
    return generate(client, model, body("now make it blue", history=[*history, model_turn]))


def test_multi_turn_with_the_signatures_as_received_is_accepted(client: httpx.Client) -> None:
    history, turn = _model_turn(client, PRO, unique())
    assert _edit(client, PRO, history, turn).status_code == 200


def test_multi_turn_accepts_sdk_style_url_safe_base64(client: httpx.Client) -> None:
    history, turn = _model_turn(client, FLASH31, unique())
    for part in turn["parts"]:
        part["thoughtSignature"] = base64.urlsafe_b64encode(
            base64.b64decode(part["thoughtSignature"])
        ).decode()
        if "inlineData" in part:
            raw = base64.b64decode(part["inlineData"]["data"])
            part["inlineData"]["data"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert _edit(client, FLASH31, history, turn).status_code == 200


@pytest.mark.parametrize("damage", ["tamper_image", "drop_image", "drop_text", "swap"])
def test_multi_turn_with_a_bad_signature_is_rejected(client: httpx.Client, damage: str) -> None:
    history, turn = _model_turn(client, FLASH31, unique())
    text, image = turn["parts"]
    if damage == "tamper_image":
        image["thoughtSignature"] = base64.b64encode(b"\0" * SIG_BYTES).decode()
    elif damage == "drop_image":
        del image["thoughtSignature"]
    elif damage == "drop_text":
        del text["thoughtSignature"]
    else:
        text["thoughtSignature"], image["thoughtSignature"] = (
            image["thoughtSignature"],
            text["thoughtSignature"],
        )
    r = _edit(client, FLASH31, history, turn)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "Unable to submit request because it has an invalid thought signature for content at index 1"
    )


def test_multi_turn_sentinel_bypasses_the_check(client: httpx.Client) -> None:
    history, turn = _model_turn(client, FLASH25, unique())  # foreign history without signatures
    assert _edit(client, PRO, history, turn).status_code == 400
    for part in turn["parts"]:
        part["thoughtSignature"] = SKIP_SIGNATURE
    assert _edit(client, PRO, history, turn).status_code == 200


def test_multi_turn_on_2_5_needs_no_signatures(client: httpx.Client) -> None:
    history, turn = _model_turn(client, FLASH25, unique())
    assert _edit(client, FLASH25, history, turn).status_code == 200


def test_include_thoughts_adds_thought_text_and_an_interim_image(client: httpx.Client) -> None:
    payload = body("a castle", ratio="16:9", thinkingConfig={"includeThoughts": True})
    parts = parts_of(generate(client, PRO, payload).json())
    assert [bool(p.get("thought")) for p in parts] == [True, True, False, False]
    assert "text" in parts[0] and "inlineData" in parts[1] and "text" in parts[2]
    assert max(decode(parts[1]).size) <= 256
    assert all("thoughtSignature" in p for p in parts if "inlineData" in p)
    assert decode(parts[3]).size == catalogue.MODELS[PRO].pixel_size("16:9", "1K")
    plain = parts_of(generate(client, FLASH25, {**payload, "contents": payload["contents"]}).json())
    assert not any(p.get("thought") for p in plain)


def test_the_official_sdk_can_chat_with_it(emu: Emulator) -> None:
    """google-genai is an independent reader of the protocol: it re-encodes history as URL-safe base64."""
    genai = pytest.importorskip("google.genai")
    types = pytest.importorskip("google.genai.types")
    sdk = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emu.url, api_version="v1beta"))
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio="3:2", image_size="1K"),
        thinking_config=types.ThinkingConfig(include_thoughts=True),
    )
    chat = sdk.chats.create(model=FLASH31, config=config)
    chat.send_message(unique("a dog"))
    reply = chat.send_message("make it blue")
    final = [p for p in reply.candidates[0].content.parts if p.inline_data and not p.thought]
    assert len(final) == 1
    assert Image.open(io.BytesIO(final[0].inline_data.data)).size == (1264, 848)
    assert reply.usage_metadata.candidates_tokens_details[0].token_count == 1120


# ---------------------------------------------------------------------------------------------- text models


def test_text_model_json_mode_gives_three_distinct_proposals(client: httpx.Client) -> None:
    payload = body("a cosy reading nook", responseMimeType="application/json")
    data = generate(client, TEXT, payload).json()
    proposals = json.loads(parts_of(data)[0]["text"])
    assert isinstance(proposals, list) and len(proposals) == 3 and len(set(proposals)) == 3
    assert all("a cosy reading nook" in p for p in proposals)
    assert "candidatesTokensDetails" not in data["usageMetadata"]


def test_text_model_plain_and_image_modality(client: httpx.Client) -> None:
    text = parts_of(generate(client, TEXT, body("a cosy reading nook")).json())[0]["text"]
    assert "a cosy reading nook" in text
    r = generate(client, TEXT, body("x", responseModalities=["TEXT", "IMAGE"]))
    assert r.status_code == 400


# ---------------------------------------------------------------------------------------------- streaming


def sse(response: httpx.Response) -> list[dict]:
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = [c for c in response.text.split("\r\n\r\n") if c]
    assert all(c.startswith("data: ") for c in chunks)
    assert "[DONE]" not in response.text
    return [json.loads(c[len("data: ") :]) for c in chunks]


def test_streaming_shape(client: httpx.Client) -> None:
    r = client.post(f"/v1beta/models/{PRO}:streamGenerateContent", params={"alt": "sse"}, json=body("a boat"))
    events = sse(r)
    assert "text" in parts_of(events[0])[0]
    images = [e for e in events if "inlineData" in parts_of(e)[0]]
    assert len(images) == 1 and decode(parts_of(images[0])[0]).size == (1024, 1024)
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert events[-1]["usageMetadata"]["candidatesTokensDetails"][0]["tokenCount"] == 1120
    assert all("finishReason" not in e["candidates"][0] for e in events[:-1])


def test_streaming_errors_are_plain_json(client: httpx.Client) -> None:
    r = client.post("/v1beta/models/nope:streamGenerateContent?alt=sse", json=body("x"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    r = client.post(
        f"/v1beta/models/{PRO}:streamGenerateContent?alt=sse",
        json=body("x"),
        headers={"X-Emulator-Fault": "429"},
    )
    assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_streaming_content_fault_is_one_event(client: httpx.Client) -> None:
    r = client.post(
        f"/v1beta/models/{FLASH31}:streamGenerateContent?alt=sse",
        json=body("x"),
        headers={"X-Emulator-Fault": "blocked"},
    )
    [event] = sse(r)
    assert event["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"


# ---------------------------------------------------------------------------------------------- faults


def _google(status: str) -> Callable[[httpx.Response], None]:
    def check(r: httpx.Response) -> None:
        assert r.json()["error"]["status"] == status

    return check


def _relay(code: str, words: str) -> Callable[[httpx.Response], None]:
    def check(r: httpx.Response) -> None:
        error = r.json()["error"]
        assert error["type"] == "new_api_error" and error["code"] == code and words in error["message"]

    return check


def _quota(per_minute: bool) -> Callable[[httpx.Response], None]:
    def check(r: httpx.Response) -> None:
        error = r.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        types = {d["@type"].rsplit(".", 1)[-1]: d for d in error["details"]}
        quota_id = types["QuotaFailure"]["violations"][0]["quotaId"]
        if per_minute:
            assert "PerMinute" in quota_id
            assert types["RetryInfo"]["retryDelay"] == f"{RETRY_DELAY}s"
            assert error["message"].endswith(f"Please retry in {RETRY_DELAY}s.")
        else:
            assert quota_id == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
            assert "RetryInfo" not in types

    return check


def _candidate(finish: str, content: dict | None = None) -> Callable[[httpx.Response], None]:
    def check(r: httpx.Response) -> None:
        cand = r.json()["candidates"][0]
        assert cand["finishReason"] == finish
        if content is not None:
            assert cand["content"] == content
        assert not any("inlineData" in p for p in cand["content"].get("parts", []))

    return check


def _blocked(r: httpx.Response) -> None:
    data = r.json()
    assert "candidates" not in data and data["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"
    assert data["usageMetadata"]["totalTokenCount"] == data["usageMetadata"]["promptTokenCount"]


def _text_only(r: httpx.Response) -> None:
    cand = r.json()["candidates"][0]
    assert cand["finishReason"] == "STOP"
    assert [list(p) for p in cand["content"]["parts"]] == [["text"]]
    assert cand["content"]["parts"][0]["text"].startswith("I can't create that image")


def _image_safety(r: httpx.Response) -> None:
    _candidate("IMAGE_SAFETY", {"role": "model"})(r)
    assert r.json()["candidates"][0]["finishMessage"]


def _html(r: httpx.Response) -> None:
    assert r.headers["content-type"].startswith("text/html") and "502 Bad Gateway" in r.text


def _not_json(r: httpx.Response) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


def _overloaded(r: httpx.Response) -> None:
    _google("UNAVAILABLE")(r)
    assert r.json()["error"]["message"] == "The model is overloaded. Please try again later."


FAULT_CHECKS: dict[str, tuple[int, Callable[[httpx.Response], None]]] = {
    "400": (400, _google("INVALID_ARGUMENT")),
    "401": (401, _google("UNAUTHENTICATED")),
    "403": (403, _google("PERMISSION_DENIED")),
    "404": (404, _google("NOT_FOUND")),
    "413": (413, _relay("read_request_body_failed", "too large")),
    "429": (429, _quota(per_minute=True)),
    "429-daily": (429, _quota(per_minute=False)),
    "500": (500, _google("INTERNAL")),
    "502": (502, _html),
    "503": (503, _overloaded),
    "blocked": (200, _blocked),
    "image_safety": (200, _image_safety),
    "image_prohibited": (200, _candidate("IMAGE_PROHIBITED_CONTENT", {"role": "model"})),
    "no_image": (200, _candidate("NO_IMAGE", {})),
    "text_only": (200, _text_only),
    "max_tokens": (200, _candidate("MAX_TOKENS")),
    "empty_candidates": (200, lambda r: None if r.json() == {"candidates": []} else pytest.fail(r.text)),
    "malformed": (200, _not_json),
    "relay_error_200": (200, _relay("get_channel_failed", f"no available channel for model {PRO}")),
    "relay_401": (401, _relay("", "invalid token")),
}
TRANSPORT_FAULTS = {"truncated", "stall", "stall_body", "trickle", "close"}


def test_every_fault_is_covered_by_these_tests() -> None:
    assert set(FAULT_CHECKS) | TRANSPORT_FAULTS == set(FAULTS)


@pytest.mark.parametrize("name", list(FAULT_CHECKS))
def test_fault_by_header(client: httpx.Client, name: str) -> None:
    status, check = FAULT_CHECKS[name]
    r = generate(client, PRO, body("x"), headers={"X-Emulator-Fault": name})
    assert r.status_code == status, r.text
    check(r)


@pytest.mark.parametrize("name", ["503", "blocked", "relay_error_200"])
def test_fault_by_prompt_token(client: httpx.Client, name: str) -> None:
    status, check = FAULT_CHECKS[name]
    r = generate(client, PRO, body(f"a cat [[fault:{name}]]"))
    assert r.status_code == status
    check(r)


def test_fault_token_with_a_count_fails_only_the_first_k(client: httpx.Client) -> None:
    payload = body(unique("a retry test [[fault:503*2]]"), responseModalities=["IMAGE"])
    assert [generate(client, FLASH25, payload).status_code for _ in range(4)] == [503, 503, 200, 200]


def test_unknown_fault_name_is_400(client: httpx.Client) -> None:
    r = generate(client, FLASH25, body("x"), headers={"X-Emulator-Fault": "nope"})
    assert r.status_code == 400 and "nope" in r.json()["error"]["message"]
    with pytest.raises(ValueError, match="nope"):
        Emulator(faults=["nope"])


def test_server_wide_faults_rotate_for_the_first_n_requests() -> None:
    with (
        Emulator(faults=["503", "429"], fault_count=3) as server,
        httpx.Client(base_url=server.url, headers={"x-goog-api-key": "k"}, timeout=20) as c,
    ):
        statuses = [generate(c, TEXT, body("hi")).status_code for _ in range(5)]
        header_wins = generate(c, TEXT, body("hi"), headers={"X-Emulator-Fault": "500"}).status_code
    assert statuses == [503, 429, 503, 200, 200]
    assert header_wins == 500


def test_truncated_body_breaks_the_read(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        generate(client, FLASH25, body("x"), headers={"X-Emulator-Fault": "truncated"})


def test_close_sends_no_response(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        generate(client, FLASH25, body("x"), headers={"X-Emulator-Fault": "close"})


def test_stall_sends_nothing(emu: Emulator) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{emu.url}/v1beta/models/{FLASH25}:generateContent",
            json=body("x"),
            headers={"x-goog-api-key": KEY, "X-Emulator-Fault": "stall"},
            timeout=httpx.Timeout(5, read=0.3),
        )


def _read_until_timeout(emu: Emulator, fault: str, limit: int) -> tuple[httpx.Response, bytes]:
    got = b""
    with httpx.stream(
        "POST",
        f"{emu.url}/v1beta/models/{FLASH25}:generateContent",
        json=body("x"),
        headers={"x-goog-api-key": KEY, "X-Emulator-Fault": fault},
        timeout=httpx.Timeout(5, read=0.8),
    ) as r:
        try:
            for piece in r.iter_raw():
                got += piece
                if len(got) >= limit:
                    break
        except httpx.ReadTimeout:
            pass
    return r, got


def test_stall_body_sends_headers_and_a_few_bytes(emu: Emulator) -> None:
    r, got = _read_until_timeout(emu, "stall_body", limit=1000)
    assert r.status_code == 200 and int(r.headers["content-length"]) > 1000
    assert 0 < len(got) < 100 and got.startswith(b'{\n  "candidates"'[: len(got)])


def test_trickle_sends_a_valid_response_byte_by_byte(emu: Emulator) -> None:
    r, got = _read_until_timeout(emu, "trickle", limit=2)
    assert r.status_code == 200 and got == b"{\n"


def test_stop_returns_while_a_stall_is_in_progress() -> None:
    server = Emulator(stall_seconds=600).start()
    errors: list[BaseException] = []

    def stalled_call() -> None:
        try:
            httpx.post(
                f"{server.url}/v1beta/models/{FLASH25}:generateContent",
                json=body("x"),
                headers={"x-goog-api-key": "k", "X-Emulator-Fault": "stall"},
                timeout=60,
            )
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=stalled_call, daemon=True)
    caller.start()
    seen = threading.Event()
    for _ in range(100):
        if server.requests:
            seen.set()
            break
        seen.wait(0.05)
    assert seen.is_set()
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=20)
    caller.join(timeout=20)
    assert not stopper.is_alive() and not caller.is_alive()
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError)


# ---------------------------------------------------------------------------------------------- latency


def test_concurrent_requests_overlap_under_latency() -> None:
    with Emulator(latency=1.0) as server:

        def call(i: int) -> None:
            r = httpx.post(
                f"{server.url}/v1beta/models/{TEXT}:generateContent",
                json=body(f"idea {i}"),
                headers={"x-goog-api-key": "k"},
                timeout=20,
            )
            assert r.status_code == 200

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        records = list(server.requests)
    assert len(records) == 4
    # Overlap, not queueing: every request arrived before the first one was answered.
    assert max(r["received_at"] for r in records) < min(r["answered_at"] for r in records)


def test_latency_token_delays_one_request(client: httpx.Client, emu: Emulator) -> None:
    prompt = unique("slow one [[latency:0.3]]")
    assert generate(client, TEXT, body(prompt)).status_code == 200
    record = next(rec for rec in emu.requests if rec["body"] and prompt in json.dumps(rec["body"]))
    assert record["answered_at"] - record["received_at"] >= 0.25


# ---------------------------------------------------------------------------------------------- CLI


def test_help_lists_every_fault_and_every_way_to_inject_one() -> None:
    parser = argparse.ArgumentParser(prog="studio emulate")
    add_arguments(parser)
    text = parser.format_help()
    for name in FAULTS:
        assert f"  {name} " in text
    for token in ("X-Emulator-Fault", "[[fault:NAME]]", "[[fault:NAME*K]]", "--fault-count", "[[latency:"):
        assert token in text


def test_run_prints_the_url_and_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.emulator", "--port", "0", "--key", "secret-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "DEMO" in banner and "STUDIO_BASE_URL=http://127.0.0.1:" in banner
        assert "secret-demo" not in banner
        url = banner.split("STUDIO_BASE_URL=")[1].split()[0]
        r = httpx.post(
            f"{url}/v1beta/models/{TEXT}:generateContent?key=secret-demo", json=body("hi"), timeout=20
        )
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "secret-demo" not in out + err
