"""studio.wire: request bodies, response parsing, refusals, error mapping and redaction."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.domain import catalogue
from studio.domain.errors import (
    AuthError,
    BadResponse,
    Blocked,
    EndpointError,
    InputError,
    ModelNotFound,
    NoImage,
    QuotaError,
    RequestRejected,
    ServerError,
    StudioError,
)
from studio.domain.requests import GenerationRequest, Reference
from studio.gemini import wire


def image_bytes(fmt: str = "PNG", size=(32, 24), color=(30, 140, 220)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def reference(fmt: str = "PNG", color=(10, 20, 30)) -> Reference:
    data = image_bytes(fmt, color=color)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return Reference(data=data, mime_type=mime, sha256=hashlib.sha256(data).hexdigest(), width=32, height=24)


def response(*parts, finish="STOP", **extra) -> dict:
    cand = {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish, "index": 0}
    return {
        "candidates": [cand],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 1299},
        "modelVersion": "gemini-x",
        "responseId": "r-1",
        **extra,
    }


def inline(data: bytes, mime="image/png", **part) -> dict:
    return {"inlineData": {"mimeType": mime, "data": b64(data)}, **part}


# -- build_body ------------------------------------------------------------------------------------


def test_body_is_camel_case_with_prompt_first_then_references_in_order():
    refs = (reference("PNG"), reference("JPEG"))
    body = wire.build_body(
        GenerationRequest(
            prompt="a cat on a sofa",
            model="gemini-3-pro-image",
            aspect_ratio="16:9",
            image_size="2K",
            modalities=("text", "image"),
            references=refs,
        )
    )
    turn = body["contents"][-1]
    assert turn["role"] == "user"
    assert turn["parts"][0] == {"text": "a cat on a sofa"}
    assert [p["inlineData"]["mimeType"] for p in turn["parts"][1:]] == ["image/png", "image/jpeg"]
    assert [base64.b64decode(p["inlineData"]["data"], validate=True) for p in turn["parts"][1:]] == [
        r.data for r in refs
    ]
    config = body["generationConfig"]
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
    assert config["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert "aspectRatio" not in config
    text = json.dumps(body)
    for snake in ("inline_data", "mime_type", "generation_config", "image_config", "response_modalities"):
        assert snake not in text


@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("gemini-2.5-flash-image", False),
        ("gemini-3.1-flash-lite-image", False),
        ("gemini-3.1-flash-image", True),
        ("some-future-model", True),  # unknown ids pass it through
    ],
)
def test_image_size_only_for_models_with_sizes(model, sent):
    body = wire.build_body(GenerationRequest(prompt="x", model=model, aspect_ratio="1:1", image_size="1K"))
    assert ("imageSize" in body["generationConfig"]["imageConfig"]) is sent
    assert body["generationConfig"]["imageConfig"]["aspectRatio"] == "1:1"


def test_minimal_body_has_no_optional_fields():
    body = wire.build_body(GenerationRequest(prompt="x", model="gemini-2.5-flash-image"))
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generationConfig": {"responseModalities": ["IMAGE"]},
    }


def test_sampling_thinking_tools_and_system_instruction():
    req = GenerationRequest(
        prompt="x",
        model="gemini-3.1-flash-image",
        temperature=0.0,
        top_p=0.9,
        seed=0,
        thinking_level="HIGH",
        include_thoughts=True,
        google_search=True,
        system_instruction="You are a product photographer.",
    )
    body = wire.build_body(req)
    config = body["generationConfig"]
    assert (config["temperature"], config["topP"], config["seed"]) == (0.0, 0.9, 0)  # zeros are kept
    assert config["thinkingConfig"] == {"thinkingLevel": "HIGH", "includeThoughts": True}
    assert body["tools"] == [{"googleSearch": {}}]
    assert body["systemInstruction"] == {"parts": [{"text": "You are a product photographer."}]}


def test_history_turns_are_sent_verbatim_before_the_new_turn():
    model_turn = {
        "role": "model",
        "parts": [
            {"text": "Here you go", "thoughtSignature": "EsauMgrCrjIB"},
            {
                "inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"},
                "thoughtSignature": "-vv8_f7_-__-",
            },
        ],
    }
    history = ({"role": "user", "parts": [{"text": "make an infographic"}]}, model_turn)
    body = wire.build_body(
        GenerationRequest(prompt="now in Spanish", model="gemini-3-pro-image", history=history)
    )
    assert body["contents"][:2] == list(history)
    assert body["contents"][1] is model_turn
    assert body["contents"][2]["parts"] == [{"text": "now in Spanish"}]


def test_references_without_prompt_send_no_empty_text_part():
    body = wire.build_body(
        GenerationRequest(prompt="", model="gemini-3-pro-image", references=(reference(),))
    )
    assert list(body["contents"][0]["parts"][0]) == ["inlineData"]


def test_text_body():
    assert wire.build_text_body("hi") == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    body = wire.build_text_body("hi", system="be brief", json_mode=True)
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


# -- validate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"aspect_ratio": "8:1"}, "aspect ratio 8:1"),
        ({"image_size": "2K"}, "image size 2K"),
        ({"references": (reference(),) * 4}, "at most 3 reference"),
        ({"variants": 0}, "between 1 and 8"),
        ({"variants": 9}, "between 1 and 8"),
        ({"prompt": "  "}, "Write a prompt"),
    ],
)
def test_validate_rejects_with_a_sentence(changes, words):
    req = GenerationRequest(**({"prompt": "x", "model": "gemini-2.5-flash-image"} | changes))
    with pytest.raises(InputError, match=words):
        catalogue.validate(req)


@pytest.mark.parametrize(
    "req",
    [
        GenerationRequest(prompt="x", model="gemini-2.5-flash-image", aspect_ratio="21:9", image_size="1K"),
        GenerationRequest(prompt="x", model="gemini-3.1-flash-image", aspect_ratio="8:1", image_size="512"),
        GenerationRequest(prompt="", model="gemini-3-pro-image", references=(reference(),), variants=8),
        GenerationRequest(prompt="x", model="my-relay-model", aspect_ratio="7:3", image_size="3K"),
    ],
)
def test_validate_accepts(req):
    catalogue.validate(req)


# -- parse_success ---------------------------------------------------------------------------------


def test_text_and_png_with_signatures_and_metadata():
    png = image_bytes("PNG")
    data = response(
        {"text": "Here", "thoughtSignature": "sig-text"},
        inline(png, thoughtSignature="sig-img"),
        groundingMetadata=None,
    )
    data["candidates"][0]["groundingMetadata"] = {"webSearchQueries": [""]}
    outcome = wire.parse_success(data)
    assert [(i.data, i.mime_type, i.signature, i.thought) for i in outcome.images] == [
        (png, "image/png", "sig-img", False)
    ]
    assert outcome.text == "Here"
    assert outcome.finish_reason == "STOP"
    assert outcome.model_content is data["candidates"][0]["content"]
    assert outcome.usage["totalTokenCount"] == 1299
    assert outcome.grounding == {"webSearchQueries": [""]}
    assert (outcome.model_version, outcome.response_id) == ("gemini-x", "r-1")
    assert wire.refusal(outcome) is None


def test_thought_parts_are_kept_apart_and_the_final_image_is_not_a_thought():
    draft, final = image_bytes("JPEG", color=(1, 2, 3)), image_bytes("JPEG", color=(200, 2, 3))
    outcome = wire.parse_success(
        response(
            {"text": "Planning the layout", "thought": True},
            inline(draft, "image/jpeg", thought=True),
            {"text": "Done.", "thoughtSignature": "s1"},
            inline(final, "image/jpeg", thoughtSignature="s2"),
        )
    )
    assert [i.data for i in outcome.thought_images] == [draft]
    assert outcome.thought_images[0].thought
    assert [i.data for i in outcome.images] == [final]
    assert (outcome.text, outcome.thoughts_text) == ("Done.", "Planning the layout")


def test_several_final_images_keep_their_order():
    a, b = image_bytes(color=(1, 1, 1)), image_bytes(color=(2, 2, 2))
    outcome = wire.parse_success(response({"text": "one"}, inline(a), {"text": "two"}, inline(b)))
    assert [i.data for i in outcome.images] == [a, b]
    assert outcome.text == "onetwo"


@pytest.mark.parametrize(
    ("fmt", "declared", "sniffed"),
    [
        ("PNG", "image/jpeg", "image/png"),
        ("JPEG", "image/png", "image/jpeg"),
        ("WEBP", "image/png", "image/webp"),
        ("GIF", "application/octet-stream", "image/gif"),
    ],
)
def test_mime_is_sniffed_from_the_bytes(fmt, declared, sniffed):
    outcome = wire.parse_success(response(inline(image_bytes(fmt), declared)))
    assert outcome.images[0].mime_type == sniffed


def test_unknown_bytes_keep_the_declared_mime():
    outcome = wire.parse_success(response(inline(b"not really an image", "image/heic")))
    assert outcome.images[0].mime_type == "image/heic"


def test_snake_case_inline_data_and_url_safe_unpadded_base64():
    png = image_bytes()
    data = base64.urlsafe_b64encode(png).decode().rstrip("=")
    outcome = wire.parse_success(
        response({"inline_data": {"mime_type": "image/png", "data": data}, "thought_signature": "s"})
    )
    assert outcome.images[0].data == png
    assert outcome.images[0].signature == "s"


def test_markdown_data_url_image_in_text_becomes_an_image():
    png = image_bytes()
    outcome = wire.parse_success(
        response({"text": f"Here it is:\n![image](data:image/png;base64,{b64(png)})"})
    )
    assert [i.data for i in outcome.images] == [png]
    assert outcome.text == "Here it is:"


def test_line_wrapped_and_unpadded_standard_base64_is_read():
    png = image_bytes()
    text = base64.encodebytes(png).decode()  # MIME style: a newline every 76 characters
    assert "\n" in text
    for data in (text, text.replace("\n", "").rstrip("=")):
        outcome = wire.parse_success(response({"inlineData": {"mimeType": "image/png", "data": data}}))
        assert outcome.images[0].data == png


@pytest.mark.parametrize("bad", ["!!!not base64!!!", "abcde", "====", "iVBORw0KGgoé"])
def test_undecodable_base64_is_a_bad_response(bad):
    with pytest.raises(BadResponse):
        wire.parse_success(response({"inlineData": {"mimeType": "image/png", "data": bad}}))


def test_image_part_without_data_is_a_bad_response():
    with pytest.raises(BadResponse):
        wire.parse_success(response({"inlineData": {"mimeType": "image/png"}}))


@pytest.mark.parametrize("content", [{}, {"role": "model"}, {"parts": None}, {"parts": "x"}, None, "x"])
def test_content_without_parts_is_guarded(content):
    data = {"candidates": [{"content": content, "finishReason": "NO_IMAGE"}]}
    outcome = wire.parse_success(data)
    assert outcome.images == [] and outcome.finish_reason == "NO_IMAGE"
    assert isinstance(wire.refusal(outcome), NoImage)


@pytest.mark.parametrize("data", [{}, {"candidates": []}, {"candidates": None}, {"candidates": [None]}])
def test_missing_candidates(data):
    outcome = wire.parse_success(data)
    assert outcome.finish_reason is None and outcome.images == []
    assert isinstance(wire.refusal(outcome), NoImage)


def test_not_an_object_is_a_bad_response():
    with pytest.raises(BadResponse):
        wire.parse_success([1, 2])


# Every finishReason of §3.3, with what refusal() must make of a response without an image.
FINISH_REASONS = [
    ("STOP", NoImage),
    ("MAX_TOKENS", NoImage),
    ("SAFETY", Blocked),
    ("RECITATION", Blocked),
    ("OTHER", NoImage),
    ("LANGUAGE", NoImage),
    ("BLOCKLIST", Blocked),
    ("PROHIBITED_CONTENT", Blocked),
    ("SPII", Blocked),
    ("MALFORMED_FUNCTION_CALL", NoImage),
    ("IMAGE_SAFETY", Blocked),
    ("UNEXPECTED_TOOL_CALL", NoImage),
    ("TOO_MANY_TOOL_CALLS", NoImage),
    ("IMAGE_PROHIBITED_CONTENT", Blocked),
    ("IMAGE_OTHER", NoImage),
    ("NO_IMAGE", NoImage),
    ("IMAGE_RECITATION", Blocked),
    ("MALFORMED_RESPONSE", NoImage),
    ("MISSING_THOUGHT_SIGNATURE", NoImage),
    ("CONTINUATION", NoImage),
    ("ESCALATION", NoImage),
    ("PUP_LIMITED_DISABLED", NoImage),
    ("MODEL_ARMOR", NoImage),
    ("SOMETHING_NEW", NoImage),
]


@pytest.mark.parametrize(("reason", "error"), FINISH_REASONS)
def test_every_finish_reason_without_image_is_refused(reason, error):
    data = {
        "candidates": [
            {"content": {"role": "model"}, "finishReason": reason, "finishMessage": "Support code: 42876398."}
        ]
    }
    outcome = wire.parse_success(data)
    assert outcome.finish_reason == reason
    refused = wire.refusal(outcome)
    assert type(refused) is error
    assert refused.outcome is outcome
    assert "Support code: 42876398." in refused.message
    assert refused.status == ("blocked" if error is Blocked else "no_image")


@pytest.mark.parametrize("reason", [r for r, _ in FINISH_REASONS])
def test_any_finish_reason_with_an_image_is_a_success(reason):
    outcome = wire.parse_success(response(inline(image_bytes()), finish=reason))
    assert wire.refusal(outcome) is None


@pytest.mark.parametrize(
    "block",
    ["SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "MODEL_ARMOR", "JAILBREAK"],
)
def test_every_block_reason_is_blocked(block):
    data = {
        "promptFeedback": {"blockReason": block},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
    outcome = wire.parse_success(data)
    assert outcome.block_reason == block and outcome.usage["totalTokenCount"] == 7
    refused = wire.refusal(outcome)
    assert isinstance(refused, Blocked)
    assert refused.message == (
        f"The prompt was blocked by the model's safety filters ({block}). Rephrase it and try again."
    )


def test_text_only_stop_quotes_the_reply():
    reply = "I can only describe it: " + "a red fox " * 40
    refused = wire.refusal(wire.parse_success(response({"text": reply})))
    assert isinstance(refused, NoImage)
    assert refused.message.startswith("The model answered with text only and no image: “I can only describe")
    assert refused.message.endswith("Ask explicitly for an image, or try again.")
    assert len(refused.message) < 320


def test_error_envelope_inside_a_200_raises_the_mapped_error():
    with pytest.raises(QuotaError) as info:
        wire.parse_success(
            {"error": {"message": "rate limited, retry in 3s", "type": "new_api_error", "code": 429}}
        )
    assert info.value.retry_after == 3.0
    with pytest.raises(ModelNotFound, match="HTTP 200, error code 404: no available channel"):
        wire.parse_success(
            {
                "error": {
                    "message": "no available channel for model m under group default",
                    "type": "new_api_error",
                    "code": "get_channel_failed",
                }
            }
        )
    with pytest.raises(RequestRejected, match="HTTP 200 with an error"):
        wire.parse_success(
            {
                "error": {
                    "message": "API not implemented",
                    "type": "one_api_error",
                    "code": "api_not_implemented",
                }
            }
        )


# -- streaming -------------------------------------------------------------------------------------


def test_sse_events_are_assembled_into_one_outcome():
    png = image_bytes()
    events = [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Thinking", "thought": True}]}}],
            "usageMetadata": {"totalTokenCount": 1471},
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [inline(png, thoughtSignature="s")]}}],
            "usageMetadata": {"totalTokenCount": 1400},
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
            "usageMetadata": {"totalTokenCount": 1394},
            "modelVersion": "gemini-3-pro-image-preview",
        },
    ]
    text = "\r\n".join(f"data: {json.dumps(e)}\r\n" for e in events)
    outcome = wire.parse_success(wire.assemble_stream(wire.parse_sse(text)))
    assert [i.data for i in outcome.images] == [png]
    assert outcome.finish_reason == "STOP"
    assert outcome.usage == {"totalTokenCount": 1394}
    assert outcome.thoughts_text == "Thinking"
    assert len(outcome.model_content["parts"]) == 3


def test_a_stream_that_is_plain_json_is_read_as_one_event():
    events = wire.parse_sse(json.dumps({"error": {"code": 404, "message": "no", "status": "NOT_FOUND"}}))
    with pytest.raises(ModelNotFound):
        wire.parse_success(wire.assemble_stream(events))


def test_malformed_sse_event_is_a_bad_response():
    with pytest.raises(BadResponse):
        wire.parse_sse('data: {"candidates": [\n\n')


# -- error_from_response ---------------------------------------------------------------------------


def google(code: int, status: str, message: str, *details) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "status": status, "details": list(details)}}
    ).encode()


def retry_info(delay: str) -> dict:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def quota_failure(quota_id: str) -> dict:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                "quotaId": quota_id,
            }
        ],
    }


KEY_INVALID = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": "API_KEY_INVALID",
    "domain": "googleapis.com",
}

# The §4.2 status table, plus the relay statuses.
STATUS_TABLE = [
    pytest.param(
        400,
        "INVALID_ARGUMENT",
        'Invalid JSON payload received. Unknown name "aspectRatio"',
        (),
        RequestRejected,
        id="400-invalid-argument",
    ),
    pytest.param(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        (KEY_INVALID,),
        AuthError,
        id="400-api-key-invalid",
    ),
    pytest.param(
        400,
        "INVALID_ARGUMENT",
        "API key expired. Please renew the API key.",
        (),
        AuthError,
        id="400-api-key-expired",
    ),
    pytest.param(
        400,
        "FAILED_PRECONDITION",
        "Gemini API free tier is not available in your country.",
        (),
        RequestRejected,
        id="400-failed-precondition",
    ),
    pytest.param(
        400,
        "INVALID_ARGUMENT",
        "Request payload size exceeds the limit: 20971520 bytes.",
        (),
        RequestRejected,
        id="400-payload-size",
    ),
    pytest.param(
        401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", (), AuthError, id="401"
    ),
    pytest.param(402, None, "Prepay credits depleted", (), QuotaError, id="402"),
    pytest.param(403, "PERMISSION_DENIED", "Your API key was reported as leaked.", (), AuthError, id="403"),
    pytest.param(
        404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta", (), ModelNotFound, id="404"
    ),
    pytest.param(413, None, "request body too large", (), RequestRejected, id="413"),
    pytest.param(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", (retry_info("47s"),), QuotaError, id="429"),
    pytest.param(499, "CANCELLED", "The operation was cancelled.", (), RequestRejected, id="499"),
    pytest.param(500, "INTERNAL", "An internal error has occurred.", (), ServerError, id="500"),
    pytest.param(502, None, "Bad gateway", (), ServerError, id="502"),
    pytest.param(
        503, "UNAVAILABLE", "The model is overloaded. Please try again later.", (), ServerError, id="503"
    ),
    pytest.param(
        504,
        "DEADLINE_EXCEEDED",
        "Deadline expired before operation could complete.",
        (),
        ServerError,
        id="504",
    ),
]


@pytest.mark.parametrize(("status", "google_status", "message", "details", "error"), STATUS_TABLE)
def test_google_envelopes_map_to_errors(status, google_status, message, details, error):
    exc = wire.error_from_response(status, google(status, google_status, message, *details))
    assert type(exc) is error
    assert exc.status_code == status
    assert f"HTTP {status}" in exc.message
    assert message[:30] in exc.message
    assert exc.reply.google_status == google_status


def test_401_sentence_tells_the_designer_where_the_key_lives():
    exc = wire.error_from_response(401, google(401, "UNAUTHENTICATED", "bad credentials"))
    assert exc.message == (
        "The endpoint rejected the API key (HTTP 401: bad credentials). Check STUDIO_API_KEY "
        "or .streamlit/secrets.toml, and STUDIO_AUTH (bearer, goog or query) for your endpoint."
    )


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        (429, 429, QuotaError),
        ("429", 429, QuotaError),
        ("access_denied", 403, AuthError),
        ("read_request_body_failed", 413, RequestRejected),
        ("get_channel_failed", 500, ServerError),
        ("", 401, AuthError),
        ("model_not_found", 404, ModelNotFound),
    ],
)
def test_relay_openai_envelopes(code, status, error):
    body = json.dumps(
        {
            "error": {
                "message": "upstream said no (request id: 2025abc)",
                "type": "new_api_error",
                "param": "",
                "code": code,
            }
        }
    ).encode()
    exc = wire.error_from_response(status, body)
    assert type(exc) is error
    assert "upstream said no" in exc.message
    assert exc.reply.error_type == "new_api_error"
    assert exc.reply.error_code == code


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>502 Bad Gateway</title><style>h1{}</style></head><body><h1>502 Bad Gateway</h1>"
        b"<hr><center>nginx</center></body></html>",
        b"",
        b"upstream connect error or disconnect/reset before headers",
    ],
)
def test_non_json_bodies(body):
    exc = wire.error_from_response(502, body)
    assert isinstance(exc, ServerError) and exc.status_code == 502
    assert "<" not in exc.message and "h1{}" not in exc.message
    assert len(exc.reply.body_excerpt) <= wire.BODY_EXCERPT_CHARS
    if body.startswith(b"<html>"):
        assert exc.reply.body_excerpt.endswith("502 Bad Gateway nginx")


def test_long_html_body_is_cut_in_details():
    exc = wire.error_from_response(503, b"<p>" + b"overloaded " * 200 + b"</p>")
    assert len(exc.reply.body_excerpt) == wire.BODY_EXCERPT_CHARS
    assert len(exc.message) < 400


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        pytest.param(
            google(429, "RESOURCE_EXHAUSTED", "Please retry in 9s.", retry_info("47s")),
            {"Retry-After": "5"},
            47.0,
            id="retry-info-wins",
        ),
        pytest.param(google(429, "RESOURCE_EXHAUSTED", "x", retry_info("34.4s")), {}, 34.4, id="fractional"),
        pytest.param(
            google(429, "RESOURCE_EXHAUSTED", "Please retry in 9s."),
            {"retry-after": "5"},
            5.0,
            id="header-before-message",
        ),
        pytest.param(
            google(429, "RESOURCE_EXHAUSTED", "Please retry in 47.884324799s."),
            {},
            47.884324799,
            id="message",
        ),
        pytest.param(
            b'{"error": {"message": "too many", "type": "new_api_error", "code": 429}}',
            {},
            None,
            id="nothing",
        ),
        pytest.param(b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0, id="http-date-in-the-past"),
    ],
)
def test_retry_delay_sources(body, headers, expected):
    exc = wire.error_from_response(429, body, headers)
    assert isinstance(exc, QuotaError)
    assert exc.retry_after == pytest.approx(expected) if expected is not None else exc.retry_after is None


@pytest.mark.parametrize(
    "body",
    [
        google(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded. Please retry in 20s.",
            retry_info("20s"),
            quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
        ),
        google(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for metric: generate_content_free_tier_requests, "
            "limit: 0, model: gemini-2.5-flash-preview-image. Please retry in 47.88s.",
            retry_info("47s"),
        ),
    ],
)
def test_per_day_or_zero_limit_quota_says_waiting_will_not_help(body):
    exc = wire.error_from_response(429, body)
    assert isinstance(exc, QuotaError) and exc.retry_after is None
    assert "waiting a few minutes will not help" in exc.message


def test_server_messages_are_redacted_and_shortened():
    leaked = "AIza" + "A" * 35
    body = google(
        400,
        "INVALID_ARGUMENT",
        f"bad url https://x/v1beta/models/m:generateContent?key={leaked}&alt=sse " + "z" * 500,
    )
    exc = wire.error_from_response(400, body)
    assert leaked not in exc.message and leaked not in json.dumps(dataclasses.asdict(exc.reply))
    assert "key=REDACTED" in exc.message
    assert len(exc.message) < 500


def test_redirects_are_unexpected():
    exc = wire.error_from_response(302, b"")
    assert type(exc) is EndpointError and "STUDIO_BASE_URL" in exc.message


# -- redact ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v1beta/models?key=sk-abc123&pageSize=50", "GET /v1beta/models?key=REDACTED&pageSize=50"),
        ("url='https://h/p?key=abc'", "url='https://h/p?key=REDACTED'"),
        ('{"url": "https://h/p?alt=sse&key=abc"}', '{"url": "https://h/p?alt=sse&key=REDACTED"}'),
        ("Authorization: Bearer sk-relay-123 rest", "Authorization: Bearer REDACTED rest"),
        ("x-goog-api-key: AIzaSecret", "x-goog-api-key: REDACTED"),
        ("{'x-goog-api-key': 'secret'}", "{'x-goog-api-key': 'REDACTED'}"),
        ("key AIza" + "b" * 35 + " leaked", "key REDACTED leaked"),
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_redact(text, expected):
    assert wire.redact(text) == expected


# -- properties ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "candidates",
    "content",
    "parts",
    "text",
    "inlineData",
    "inline_data",
    "data",
    "mimeType",
    "thought",
    "thoughtSignature",
    "finishReason",
    "finishMessage",
    "promptFeedback",
    "blockReason",
    "error",
    "code",
    "status",
    "message",
    "details",
    "@type",
    "retryDelay",
    "usageMetadata",
    "groundingMetadata",
]
shaped = st.recursive(
    json_values,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), shaped, max_size=5))
def test_parse_never_raises_anything_but_studio_errors(data):
    try:
        outcome = wire.parse_success(data)
    except StudioError:
        return
    refused = wire.refusal(outcome)
    assert refused is None or refused.message


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=100, max_value=599),
    st.binary(max_size=200) | shaped.map(lambda v: json.dumps(v).encode()),
)
def test_error_from_response_always_returns_an_endpoint_error(status, body):
    exc = wire.error_from_response(status, body, {"Retry-After": "x"})
    assert isinstance(exc, EndpointError) and exc.message


def test_a_damaged_part_does_not_cost_the_good_image_beside_it() -> None:
    good = base64.b64encode(_png_for_damage_test()).decode()
    data = {
        "candidates": [
            {
                "finishReason": "STOP",
                "content": {
                    "parts": [
                        {"inlineData": {"mimeType": "image/png", "data": "!!!not base64!!!"}},
                        {"inlineData": {"mimeType": "image/png", "data": good}},
                    ]
                },
            }
        ]
    }
    outcome = wire.parse_success(data)
    assert len(outcome.images) == 1 and outcome.images[0].mime_type == "image/png"
    only_bad = {
        "candidates": [
            {
                "finishReason": "STOP",
                "content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "!!!not base64!!!"}}]},
            }
        ]
    }
    with pytest.raises(BadResponse):
        wire.parse_success(only_bad)


def _png_for_damage_test() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()
