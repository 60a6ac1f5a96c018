"""The review domain (issue 15): inert Markdown against hostile input, pins, @mentions, threads, the
counts sentence, guest names and decisions. Pure functions."""

from __future__ import annotations

import math
import re

import pytest

from studio.domain.errors import InputError, LinkInvalid
from studio.domain.review import (
    Comment,
    Pin,
    ReviewCounts,
    check_decision,
    check_review_filter,
    clean_body,
    clean_guest_name,
    decision_label,
    inert_markdown,
    parse_mentions,
    studio_link,
    threaded,
)

ZW = "\u200b"


def live_links(md: str) -> list[str]:
    """Link targets a Markdown renderer would make from ``md``: inline links not preceded by a backslash,
    and bare web addresses it would autolink. GFM (remark-gfm) autolinks ``http(s)://`` after any character
    that is not an ASCII letter and ``www.`` after ``_ * ~ ( [``, so an address counts wherever it starts,
    and any ``@`` between address characters is an email autolink."""
    inline = [m.group(1) for m in re.finditer(r"(?<!\\)\[[^\]]*(?<!\\)\]\(([^)]*)\)", md)]
    bare = re.findall(r"(?i)(?:https?://|ftp://|www\.|mailto:|xmpp:|javascript:)\S+", md)
    emails = re.findall(r"[\w.+-]+@[\w.-]+", md)
    return inline + bare + emails


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://evil.test">click</a>',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(document.cookie))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "![tracker](https://evil.test/pixel.png)",
        "![x](/thumbs/abc.jpg)",
        "[off site](https://evil.test/login)",
        "[proto-relative](//evil.test/x)",
        "see https://evil.test/now and www.evil.test",
        "<https://evil.test>",
        "[ref][1]\n\n[1]: https://evil.test",
        "&lt;script&gt; &#106;avascript:alert(1)",
        "[a](<javascript:alert(1)>)",
        "[[nested](https://evil.test)](javascript:x)",
        "mail me: someone@evil.test or mailto:someone@evil.test",
        '<iframe src="https://evil.test"></iframe><style>body{display:none}</style>',
        "_https://evil.com",
        "1https://evil.com",
        "\u00e9https://evil.com",
        "_www.evil.com",
        "a@_b.com",
        "*www.evil.com* (www.evil.com) ~https://evil.com~",
    ],
)
def test_inert_markdown_leaves_no_html_and_no_live_outside_link(hostile):
    md = inert_markdown(hostile)
    assert "<" not in md and ">" not in md  # every tag is escaped text
    assert live_links(md) == []  # nothing a renderer would link or fetch
    # no entity can be decoded into markup: every & is itself escaped
    assert re.search(r"&(?!amp;|lt;|gt;)", md) is None


def test_inert_markdown_keeps_the_words_and_the_studio_links():
    md = inert_markdown("**Warmer** light, see [the first one](/history?id=3) and [top](#top).")
    assert "**Warmer**" in md
    assert "[the first one](/history?id=3)" in md and "[top](#top)" in md
    md = inert_markdown("[board](https://studio.test/collections?id=2)", studio_url="https://studio.test")
    assert "[board](https://studio.test/collections?id=2)" in md
    md = inert_markdown("[board](https://studio.test.evil/x)", studio_url="https://studio.test")
    assert live_links(md) == [] and "board" in md
    shown = inert_markdown("[click](javascript:alert(1))").replace(ZW, "").replace("\\", "")
    assert "click" in shown and "javascript:alert(1)" in shown  # the address stays readable, as text
    shown = inert_markdown("[off](https://evil.test/a)").replace(ZW, "")
    assert shown == "off (link: https://evil.test/a)"
    assert inert_markdown("<b>bold</b>") == "&lt;b&gt;bold&lt;/b&gt;"
    assert studio_link("/history") and not studio_link("//evil.test") and not studio_link("javascript:x")
    assert not studio_link("/x onerror=1") and not studio_link("")


def test_pins_are_fractions_of_the_image():
    assert Pin(0.25, 0.5).pixels(200, 100) == (50, 50, 50, 50)
    box = Pin.of({"x": 0.1, "y": 0.2, "w": 0.5, "h": 0.3})
    assert box is not None and box.is_box and box.pixels(100, 100) == (10, 20, 60, 50)
    assert Pin.from_json(box.to_json()) == box
    assert Pin.from_json("not json") is None and Pin.from_json(None) is None
    assert Pin.of(None) is None
    for bad in (
        {"x": 1.5, "y": 0.1},
        {"x": -0.1, "y": 0.1},
        {"x": math.nan, "y": 0.1},
        {"x": True, "y": 0.1},
        {"x": "0.1", "y": 0.1},
        {"x": 0.1, "y": 0.1, "w": 0.2},
        {"x": 0.8, "y": 0.1, "w": 0.5, "h": 0.1},
        {"x": 0.1, "y": 0.1, "w": 0, "h": 0.1},
        {"y": 0.1},
        [0.1, 0.2],
    ):
        with pytest.raises(InputError, match="pin|box"):
            Pin.of(bad)  # type: ignore[arg-type]


def test_mentions_resolve_to_members():
    members = ["dan@studio.test", "dana@studio.test", "rita@studio.test", "dan@other.test"]
    body = "@rita please look, and @dana@studio.test too; @nobody and mail@rita.test are not mentions"
    assert parse_mentions(body, members) == ("rita@studio.test", "dana@studio.test")
    assert parse_mentions("@dan what do you think?", members) == ()  # two members are dan@: ambiguous
    assert parse_mentions("@dan@other.test.", members) == ("dan@other.test",)


def _c(id_, parent=None, pin=None) -> Comment:
    return Comment(
        id=id_, generation_id=1, author="a@b.test", body=str(id_), created_at="", parent_id=parent, pin=pin
    )


def test_threads_read_in_order_and_pins_are_numbered_as_made():
    p = Pin(0.1, 0.1)
    got = threaded([_c(4, parent=1), _c(1, pin=p), _c(2), _c(3, parent=2, pin=p), _c(5, pin=p)])
    assert [(c.id, c.depth, c.number) for c in got] == [
        (1, 0, 1),
        (4, 1, None),
        (2, 0, None),
        (3, 1, 2),
        (5, 0, 3),
    ]


def test_counts_sentence_and_labels():
    assert ReviewCounts(12, 3, 0, 5).sentence() == "12 approved · 3 changes requested · 5 open"
    assert ReviewCounts(0, 0, 2, 0).sentence() == "2 rejected"
    assert ReviewCounts().sentence() == "Nothing to review yet"
    assert ReviewCounts(1, 2, 3, 4).total == 10
    assert decision_label("changes") == "Changes requested" and decision_label(None) == "Open"
    assert check_decision("Approved") == "approved" and check_decision("open") is None
    with pytest.raises(InputError):
        check_decision("maybe")
    assert check_review_filter(["open", "approved", "open"]) == ("open", "approved")
    with pytest.raises(InputError):
        check_review_filter("liked")


def test_guest_names_and_bodies_are_cleaned():
    assert clean_guest_name("  Ada   <script>Lovelace</script> ") == "Ada scriptLovelace/script"
    assert clean_guest_name("x" * 100) == "x" * 40
    for bad in ("", "   ", "<>@:"):
        with pytest.raises(InputError, match="Type your name"):
            clean_guest_name(bad)
    assert clean_body("  line one\nline two \x00 ") == "line one\nline two"
    with pytest.raises(InputError):
        clean_body(" \n ")
    with pytest.raises(InputError):
        clean_body("x" * 5000)


def test_link_invalid_is_one_sentence():
    err = LinkInvalid()
    assert err.kind == "link"
    assert err.message == (
        "This link is not valid: it may have expired or been revoked. Ask whoever sent it for a new one."
    )
