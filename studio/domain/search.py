"""The History search box's language, parsed into a ``SearchQuery`` (pure: no SQL, no clock).

- words match by stem and prefix (``teapots`` finds "teapot", ``tea`` finds "teapot");
- ``"a phrase"`` matches those words in that order (an unclosed quote runs to the end of the text);
- ``-word`` and ``-"a phrase"`` leave out generations that contain them;
- ``today``, ``yesterday``, ``this week``, ``last week``, ``this month``, ``last month``, ``this year``,
  ``last year``, ``last N days`` / ``past N weeks`` (N in digits or a word: one … twelve, fourteen, thirty) become a date range in the local time of the ``now`` handed in
  (weeks start on Monday). Quote one (``"today"``) to search for the word itself.

Every range is half-open: ``date_from <= created_at < date_to``. The storage layer turns the words into an
FTS5 query (``studio.storage.filter_sql``); nothing typed here can make that query invalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

#: what a word must contain to be searchable (FTS5's unicode61 tokenizer drops everything else)
_TOKEN_CHAR = re.compile(r"[^\W_]")
_MAX_DAYS = 3660  # "last 99999 days" stays a date (ten years back), never an overflow
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7}
_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
}


@dataclass(frozen=True)
class DateRange:
    """A half-open range of local times: ``start <= t < end``; ``label`` says it in words."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True)
class SearchQuery:
    """What the designer asked for: words (stem + prefix), exact phrases, exclusions and a date range."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    dates: DateRange | None = None

    @property
    def has_text(self) -> bool:
        """True when something must match (a word or a phrase)."""
        return bool(self.words or self.phrases)

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.phrases or self.excluded or self.dates)

    def describe(self) -> str:
        """One line for the page: how the box was understood (empty when there is nothing to say)."""
        parts = [*self.words, *(f"“{p}”" for p in self.phrases)]
        out = []
        if parts:
            out.append("matching " + " and ".join(parts))
        if self.excluded:
            out.append("without " + ", ".join(self.excluded))
        if self.dates:
            out.append(self.dates.label)
        return " · ".join(out)


def searchable(word: str) -> bool:
    """True when ``word`` has a letter or digit (the rest is punctuation FTS5 ignores)."""
    return bool(_TOKEN_CHAR.search(word))


# -- relative dates ----------------------------------------------------------------------------------


def _day(d: datetime) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def _span(start: datetime, end: datetime) -> str:
    last = end - timedelta(days=1)
    if start.date() == last.date():
        return _day(start)
    if (start.year, start.month) == (last.year, last.month):
        return f"{start.day}–{last.day} {last:%b}"
    return f"{start.day} {start:%b} – {last.day} {last:%b}"


def _midnight(now: datetime, days_back: int = 0) -> datetime:
    return datetime.combine(now.date() - timedelta(days=days_back), time.min, now.tzinfo)


def _month_start(year: int, month: int, tz: object) -> datetime:
    while month < 1:
        year, month = year - 1, month + 12
    while month > 12:
        year, month = year + 1, month - 12
    return datetime(year, month, 1, tzinfo=tz)  # type: ignore[arg-type]  # now.tzinfo, passed through


def _named(words: list[str], now: datetime) -> tuple[int, DateRange] | None:
    """A date expression at the start of ``words``: (how many words it used, the range)."""
    w = [x.lower() for x in words[:3]]
    today = _midnight(now)
    one_day = timedelta(days=1)
    if w[:1] == ["today"]:
        return 1, DateRange(today, today + one_day, f"today ({_day(today)})")
    if w[:1] == ["yesterday"]:
        start = today - one_day
        return 1, DateRange(start, today, f"yesterday ({_day(start)})")
    if len(w) >= 2 and w[0] in ("this", "last", "past"):
        monday = today - timedelta(days=today.weekday())
        if w[:2] == ["this", "week"]:
            return 2, DateRange(monday, today + one_day, f"this week ({_span(monday, today + one_day)})")
        if w[:2] == ["last", "week"]:
            start = monday - timedelta(days=7)
            return 2, DateRange(start, monday, f"last week ({_span(start, monday)})")
        first = _month_start(today.year, today.month, now.tzinfo)
        if w[:2] == ["this", "month"]:
            return 2, DateRange(first, today + one_day, f"this month ({today:%B %Y})")
        if w[:2] == ["last", "month"]:
            start = _month_start(today.year, today.month - 1, now.tzinfo)
            return 2, DateRange(start, first, f"last month ({start:%B %Y})")
        if w[:2] == ["this", "year"]:
            start = datetime(today.year, 1, 1, tzinfo=now.tzinfo)
            return 2, DateRange(start, today + one_day, f"this year ({today.year})")
        if w[:2] == ["last", "year"]:
            start = datetime(today.year - 1, 1, 1, tzinfo=now.tzinfo)
            end = datetime(today.year, 1, 1, tzinfo=now.tzinfo)
            return 2, DateRange(start, end, f"last year ({start.year})")
        if len(w) == 3 and w[0] in ("last", "past") and w[2] in _UNITS:
            n = int(w[1]) if w[1].isascii() and w[1].isdigit() and len(w[1]) <= 6 else _NUMBERS.get(w[1])
            if n:
                days = min(n * _UNITS[w[2]], _MAX_DAYS)
                start = today - timedelta(days=days - 1)
                label = f"last {n} {w[2]}" if days < _MAX_DAYS else f"last {days} days"
                return 3, DateRange(start, today + one_day, f"{label} ({_span(start, today + one_day)})")
    return None


def _intersect(a: DateRange | None, b: DateRange) -> DateRange:
    if a is None:
        return b
    start, end = max(a.start, b.start), min(a.end, b.end)
    return DateRange(start, max(start, end), f"{a.label} and {b.label}")


# -- the parser --------------------------------------------------------------------------------------

_PIECE = re.compile(r'(-?)"([^"]*)(?:"|$)|(\S+)')


def parse_search(text: str | None, now: datetime) -> SearchQuery:
    """Parse the search box. ``now`` (timezone-aware for local dates) anchors the relative dates. Each
    boundary is a local midnight in ``now``'s zone: with a zone that has DST rules (a ``ZoneInfo``), a day
    before the spring change gets its own offset, not today's."""
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    plain: list[tuple[str, bool]] = []  # (word, excluded?) in order, before dates are taken out
    # Quotes first; a stray quote inside a word (say"hi") opens nothing: only a quote at a word's start does.
    clean = (text or "").encode("utf-8", "ignore").decode("utf-8").replace("\x00", " ")  # no lone surrogates
    for match in _PIECE.finditer(clean):
        minus, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is None:  # a phrase: "red car" or -"red car"
            phrase = " ".join(quoted.split())
            if searchable(phrase):
                plain.append(("\x00" + phrase, bool(minus)))
            continue
        neg = bare.startswith("-") and len(bare) > 1
        plain.append((bare[1:] if neg else bare, neg))
    dates: DateRange | None = None
    i = 0
    while i < len(plain):
        word, neg = plain[i]
        if not neg and not word.startswith("\x00"):
            run: list[str] = []
            for w, n in plain[i : i + 3]:
                if n or w.startswith("\x00"):
                    break
                run.append(w)
            found = _named(run, now)
            if found:
                used, span = found
                dates = _intersect(dates, span)
                i += used
                continue
        if word.startswith("\x00"):
            (excluded if neg else phrases).append(word[1:])
        elif searchable(word):
            (excluded if neg else words).append(word)
        i += 1
    return SearchQuery(tuple(words), tuple(phrases), tuple(excluded), dates)
