"""The composer's draft across a browser reload and a restart of the studio (``studio.drafts``).

``studio/app/main.py`` copies the builders' widget values aside on every run (``keep_builder_state``,
into ``st.session_state[SAVED]``). Here that dict, the reference tray and a little page state are saved
after a run that changed them (``persist``: only what this session changed since its last save or restore,
merged into the stored draft, so another tab's newer values stay), and loaded back on the first run of a new session
(``restore``), before any page draws a widget: values are written into widgets from code only then, never
on a later run, where they could overwrite text typed while the run was in flight.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import streamlit as st

from studio.app import resources
from studio.app.widgets import progress, references
from studio.domain.errors import StudioError
from studio.services.drafts import SET_ASIDE, DraftChanges
from studio.services.session import StudioSession

log = logging.getLogger(__name__)

SAVED = "studio_kept"  # main.py's copy of the builders' widget values (plain session state)
LAST = "studio_draft_last"  # what this session last saved or restored (a snapshot: only changes are saved)
RESTORED = "studio_draft_restored"  # the session keys a restore put back (and their values), on that run only
NOTICE = "studio_draft_set_aside"  # the stored draft was set aside: the page says so once
CAME_BACK = "studio_draft_came_back"  # a restore brought back Generate's prompt: the page says so until used
FEED = "gen_feed"  # the Generate page's session feed (plain JSON), owned by that page
#: plain page state kept with the draft (not widgets: written back whenever absent)
STATE_KEYS = (references.SKETCHES, FEED, progress.BATCH)
#: the composer's other session keys (not widgets) that "Start fresh" drops
_COMPOSER = (references.TRAY, references.SKETCHES, "gen_base", "gen_origin", "gen_proposals", "gen_chosen")


def _plain_json(value: Any) -> Any:
    """``value`` as plain JSON (tuples become lists), or None when it is not plain."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None


def _state() -> dict[str, Any]:
    ss = st.session_state
    out = {}
    for name in STATE_KEYS:
        if name in ss and (value := _plain_json(ss[name])) is not None:
            out[name] = value
    return out


def _snapshot(saved: MutableMapping[str, Any]) -> dict[str, Any]:
    """The session's draft as plain JSON: widget values, page state and the tray's (hash, role, name)."""
    values = {}
    for name, value in saved.items():
        if (plain := _plain_json(value)) is not None or value is None:
            values[name] = plain
    tray = [[r.sha256, r.role, r.name] for r in references.tray()]
    return {"values": values, "state": _state(), "tray": tray}


def _changes(base: Mapping[str, Any], now: Mapping[str, Any]) -> DraftChanges:
    """What changed from ``base`` (the last save or restore) to ``now``."""

    def diff(part: str) -> tuple[dict[str, Any], tuple[str, ...]]:
        old, new = base.get(part) or {}, now[part]
        changed = {k: v for k, v in new.items() if k not in old or old[k] != v}
        return changed, tuple(k for k in old if k not in new)

    values, dropped_values = diff("values")
    state, dropped_state = diff("state")
    tray = None if now["tray"] == base.get("tray", []) else references.tray()
    return DraftChanges(values, dropped_values, state, dropped_state, tray)


def _sent_by_browser() -> set[str]:
    """The keys of the widget values the browser sent with this run. A browser reconnecting after a restart
    of the studio sends its widgets' values with the new session's first run, and a value written into
    session state would outrank them (Streamlit 1.67 ``SessionState._getitem`` reads ``_new_session_state``
    before ``_new_widget_state``): what the designer sees on screen is newer than the stored draft. Read from
    Streamlit's internals defensively: if they change, nothing is found and the draft is restored as before."""
    try:
        from streamlit.runtime.state.common import user_key_from_element_id
        from streamlit.runtime.state.session_state_proxy import get_session_state

        states = get_session_state()._state._new_widget_state.states
        return {key for element_id in list(states) if (key := user_key_from_element_id(element_id))}
    except Exception:  # noqa: BLE001 - an internal that moved: restore everything, as without this check
        return set()


def restore(saved: MutableMapping[str, Any], kept: Callable[[str], bool]) -> None:
    """On a new session: the stored draft's widget values into ``saved`` (main.py puts them into the
    widgets on this first run), and its tray and page state into the session."""
    try:
        draft = resources.signed_in_session().drafts.load()
    except StudioError:
        return  # the page explains a configuration problem
    if draft is None:
        return
    ss = st.session_state
    sent = _sent_by_browser()
    restored: dict[str, Any] = {}
    for name, value in draft.values.items():
        if kept(name) and name not in ss and name not in sent:
            saved[name] = value
            restored[name] = value
    if draft.tray and references.TRAY not in ss:
        ss[references.TRAY] = draft.tray
        restored[references.TRAY] = draft.tray
    for name, value in draft.state.items():
        if name in STATE_KEYS and name not in ss:
            ss[name] = value
            restored[name] = value
    ss[RESTORED] = restored
    ss[LAST] = _snapshot(saved)
    if saved.get("gen_prompt") or any(name.startswith("gen_f_") and saved[name] for name in saved):
        ss[CAME_BACK] = True


def take_restored() -> dict[str, Any]:
    """The values the restore of this run put back (empty on any later run), taken out of the session: a
    later run never blames the draft, however this one ends (normally, st.stop(), st.rerun(), a switch)."""
    return st.session_state.pop(RESTORED, None) or {}


def set_aside_restored(restored: Mapping[str, Any]) -> bool:
    """The session's FIRST run, which restored the draft, failed: say whether the draft is to blame. If so,
    the restored values the run left unchanged are taken out of the session, the stored draft is moved
    aside (kept, with a log line, never deleted), the page says so, and the caller runs the page again."""
    if not restored:
        return False
    ss = st.session_state
    saved = ss.get(SAVED) or {}
    for name, value in restored.items():
        if _same(ss.get(name, _MISSING), value):
            ss.pop(name, None)
        if _same(saved.get(name, _MISSING), value):
            saved.pop(name, None)
    ss.pop(LAST, None)  # nothing of this session is saved yet: the next save writes all of it
    ss[NOTICE] = True
    log.warning(
        "The saved draft stopped the page on its first run; it was set aside (kept as owner %r).",
        f"{_owner()}{SET_ASIDE}",
        exc_info=True,
    )
    try:
        resources.signed_in_session().drafts.set_aside()
    except StudioError:
        pass
    return True


def notice() -> None:
    """The sentence after a draft was set aside (once, above the page)."""
    if st.session_state.pop(NOTICE, False):
        st.warning(
            "The saved draft could not be put back on this page, so it was set aside and the page "
            "started without it.",
            icon=":material/history_toggle_off:",
        )


_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an odd value never stops the page: not the same
        return False


def _owner() -> str:
    try:
        return resources.signed_in_session().drafts.owner
    except StudioError:
        return ""


def persist(saved: MutableMapping[str, Any]) -> None:
    """Save what this session changed since it last saved or restored (only that: merged into the stored
    draft, so another tab's newer values for other keys stay). Never stops the page."""
    ss = st.session_state
    try:
        now = _snapshot(saved)
        changes = _changes(ss.get(LAST) or {}, now)
        if changes.is_empty():
            return
        ss[LAST] = now  # once per change, even when the disk refuses it (logged by the service)
        resources.signed_in_session().drafts.save_changes(changes)
    except StudioError:
        return
    except Exception:  # noqa: BLE001 - the draft is a convenience: log it, let the page finish
        log.warning("The composer's draft could not be saved.", exc_info=True)


def keep_now() -> None:
    """Save the draft in the middle of a run, as soon as work was sent: a reload right after a click stops
    the run, and a stopped run's ``finally`` in main.py cannot read session state to save it, so the new run
    would be missing from the reloaded page's feed (it is in History)."""
    persist(st.session_state.setdefault(SAVED, {}))


def keep_batch(studio: StudioSession, ids: Sequence[int]) -> None:
    """Save a batch just sent as the draft's newest run, at once and without touching session state: every
    read of session state is a point where Streamlit stops a run, and a reload right after a click stops
    this one, so its ``finally`` in main.py would not save it and the reloaded page's feed would miss the
    run (History has it)."""
    try:
        studio.drafts.save_changes(DraftChanges(state={progress.BATCH: [int(i) for i in ids]}))
    except StudioError:
        return
    except Exception:  # noqa: BLE001 - the draft is a convenience: log it, let the page go on
        log.warning("The composer's draft could not be saved.", exc_info=True)


def start_fresh() -> None:
    """Empty the Generate composer (prompt or fields, settings, tray, sketches, a remix) and forget its
    saved draft; the session feed and the other pages' values stay. Call it from a button's ``on_click``
    (widget values may be dropped only before the widgets are drawn)."""
    ss = st.session_state
    saved: MutableMapping[str, Any] = ss.setdefault(SAVED, {})
    for name in [n for n in saved if n.startswith("gen_")]:
        del saved[name]
    for name in [n for n in ss if isinstance(n, str) and n.startswith(("gen_f_", "gen_prop_", "gen_adv_"))]:
        del ss[name]
    for name in ("gen_prompt", "gen_mode", "gen_model", "gen_custom_model", "gen_ratio", "gen_size"):
        ss.pop(name, None)
    for name in ("gen_output", "gen_variants", *_COMPOSER):
        ss.pop(name, None)
    ss.pop(LAST, None)
    ss.pop(CAME_BACK, None)
    try:
        resources.signed_in_session().drafts.clear()
    except StudioError:
        pass
