"""How the History search box was read, for a page or the command line to say so ("matching teapot ·
without bakery · yesterday (Sun 29 Nov)"). Relative dates are read against the studio's local clock, in a
zone that knows its DST changes, exactly as the gallery reads them."""

from __future__ import annotations

from studio.domain.search import SearchQuery
from studio.storage import filter_sql


def understand(text: str | None) -> SearchQuery:
    """The search box's text parsed as the gallery will search it."""
    return filter_sql.parsed(text)


def describe(text: str | None) -> str:
    """One line for the page: how the box was understood ("" for an empty box)."""
    return understand(text).describe()
