"""AppTest of the Generate page's session feed and status line against the real emulator: runs stack newest
on top and survive a page switch; History's re-run lands on top; each image's actions (favourite, vary,
remix, use as reference) do what they say; a failure is a sentence under the Generate button."""

from __future__ import annotations

import io

from PIL import Image

from studio.app.widgets import components, feed, progress
from studio.domain.requests import GenerationRequest
from studio.imaging import metadata
from studio.services.session import StudioSession

MODEL = "gemini-2.5-flash-image"


def _generate(at, studio, prompt: str, variants: int = 1) -> list[int]:
    at.text_area(key="gen_prompt").input(prompt)
    at.number_input(key="gen_variants").set_value(variants)
    at.button(key="gen_submit").click().run()
    assert not at.exception, at.exception
    ids = list(at.session_state[progress.BATCH])
    studio.wait(ids, timeout=20)
    at.run()
    assert not at.exception, at.exception
    return ids


def _run_titles(at) -> list[str]:
    """The bold prompt line of each run in the feed, top to bottom."""
    return [m.value.strip("*").replace("\\", "") for m in at.markdown if m.value.startswith("**a ")]


def _status(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(e.value for e in at.error)


def test_two_runs_stay_in_the_feed_newest_on_top_and_survive_a_page_switch(make_app, studio):
    at = make_app(studio).run()
    first = _generate(at, studio, "a red kite over the dunes")
    second = _generate(at, studio, "a blue kite over the sea", variants=2)
    assert [run["ids"] for run in at.session_state[feed.FEED]] == [second, first]
    assert _run_titles(at) == ["a blue kite over the sea", "a red kite over the dunes"]
    assert "2 runs" in " ".join(m.value for m in at.markdown)
    assert "2 images · " in _status(at)  # the status line answers the newest run
    for gen_id in [*first, *second]:
        assert at.button(key=f"gen_view_{gen_id}")  # every image can be opened

    at.switch_page("screens/history.py").run()
    at.switch_page("screens/generate.py").run()
    assert not at.exception, at.exception
    assert _run_titles(at) == ["a blue kite over the sea", "a red kite over the dunes"]


def test_a_re_run_from_history_lands_on_top_of_the_feed(make_app, studio):
    at = make_app(studio).run()
    first = _generate(at, studio, "a paper boat on a puddle")
    at.query_params["id"] = str(first[0])
    at.switch_page("screens/history.py").run()
    at.button(key="hist_rerun").click().run()  # History sets progress.BATCH and switches to Generate
    assert not at.exception, at.exception
    rerun = list(at.session_state[progress.BATCH])
    studio.wait(rerun, timeout=20)
    at.run()
    assert [run["ids"] for run in at.session_state[feed.FEED]] == [rerun, first]


def test_favourite_toggles_and_shows_its_state(make_app, studio):
    at = make_app(studio).run()
    [gen_id] = _generate(at, studio, "a lemon on a blue plate")
    star = at.button(key=f"gen_fav_{gen_id}")
    assert star.proto.type == "tertiary" and "star_outline" in star.proto.icon
    star.click().run()
    assert studio.get(gen_id).favourite
    star = at.button(key=f"gen_fav_{gen_id}")
    assert star.proto.type == "primary" and star.proto.icon == ":material/star:"
    star.click().run()
    assert not studio.get(gen_id).favourite


def test_vary_runs_the_same_settings_with_a_new_seed_as_a_new_run(make_app, studio):
    at = make_app(studio).run()
    at.number_input(key="gen_adv_seed").set_value(1234)
    [gen_id] = _generate(at, studio, "a copper kettle")
    assert studio.get(gen_id).settings.get("seed") == 1234
    at.button(key=f"gen_vary_{gen_id}").click().run()
    assert not at.exception, at.exception
    runs = at.session_state[feed.FEED]
    assert len(runs) == 2 and runs[1]["ids"] == [gen_id]
    [varied] = runs[0]["ids"]
    studio.wait([varied], timeout=20)
    record = studio.get(varied)
    assert (record.prompt, record.model) == ("a copper kettle", MODEL)
    assert record.settings.get("seed") is None


def test_remix_loads_the_prompt_and_settings_into_the_form(make_app, studio):
    [record] = studio.generate(
        GenerationRequest(prompt="a fox in the snow", model="gemini-3-pro-image", aspect_ratio="16:9"),
        timeout=20,
    )
    at = make_app(studio)
    at.session_state[progress.BATCH] = [record.id]
    at.run()
    at.button(key=f"gen_remix_{record.id}").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == "a fox in the snow"
    assert at.selectbox(key="gen_model").value == "gemini-3-pro-image"
    assert at.selectbox(key="gen_ratio").value == "16:9"


def test_use_as_reference_puts_the_image_in_the_tray(make_app, studio):
    at = make_app(studio).run()
    [gen_id] = _generate(at, studio, "a striped beach towel")
    at.button(key=f"gen_ref_{gen_id}").click().run()
    assert not at.exception, at.exception
    assert [ref.name for ref in at.session_state["gen_tray"]][0].startswith(f"result-{gen_id}.")
    assert "1 in the tray" in " ".join(m.value for m in at.markdown)


def test_a_failure_is_a_sentence_under_the_generate_button(make_app, studio):
    at = make_app(studio).run()
    _generate(at, studio, "[[fault:429-daily]] a quota-busting owl")
    [box] = [
        e for e in _status_errors(at) if "failed" in e.value or "Nothing came back" in e.value
    ]  # under Generate
    assert "quota" in box.value.lower()
    assert not at.exception
    assert "Traceback" not in _status(at)


def test_the_feed_draws_at_most_twelve_runs_and_points_to_history(make_app, studio):
    ids = [
        i
        for prompt in ("a pear", "a plum")
        for i in studio.submit(GenerationRequest(prompt=prompt, model=MODEL, variants=7))
    ]
    studio.wait(ids, timeout=30)
    at = make_app(studio)
    at.session_state[feed.FEED] = [{"ids": [i], "prompt": f"a run {i}", "model": MODEL, "at": 0} for i in ids]
    at.run()
    assert not at.exception, at.exception
    drawn = [i for i in ids if any(b.key == f"gen_view_{i}" for b in at.button)]
    assert drawn == ids[: feed.SHOWN]
    links = [e.proto.label for e in at.get("page_link")]
    assert any("2 older runs of this session are in History" in label for label in links)


def test_the_viewer_download_is_the_original_with_its_metadata(studio):
    """What the viewer's (and each tile's) download button serves: the stored file, metadata embedded."""
    [record] = studio.generate(GenerationRequest(prompt="a brass compass", model=MODEL), timeout=20)
    [image] = record.images
    data = components.embedded(record, image)
    if data.startswith(metadata.PNG_SIGNATURE):
        texts = [body for kind, body in metadata.png_chunks(data) if kind == b"iTXt"]
        assert any(b"a brass compass" in body for body in texts)
    else:
        assert metadata.XMP_HEADER in data and b"a brass compass" in data
    assert image.path.read_bytes() != data  # the stored file itself carries none; the download adds it
    with Image.open(io.BytesIO(data)) as got, Image.open(image.path) as stored:
        assert got.tobytes() == stored.tobytes()  # the same pixels: nothing re-encoded


def test_the_feed_also_stops_at_thirty_two_images(make_app, studio):
    ids = [
        i
        for prompt in ("a fig", "a date", "a kiwi", "a lime", "a yuzu")
        for i in studio.submit(GenerationRequest(prompt=prompt, model=MODEL, variants=7))
    ]
    studio.wait(ids, timeout=60)
    runs = [ids[k : k + 7] for k in range(0, len(ids), 7)][::-1]  # newest first
    at = make_app(studio)
    at.session_state[feed.FEED] = [{"ids": r, "prompt": "a run", "model": MODEL, "at": 0} for r in runs]
    at.run()
    assert not at.exception, at.exception
    shown = {b.key for b in at.button if b.key and b.key.startswith("gen_view_")}
    assert shown == {f"gen_view_{i}" for r in runs[:4] for i in r}  # 28 images; a fifth run would pass 32
    links = [e.proto.label for e in at.get("page_link")]
    assert any("1 older run of this session is in History" in label for label in links)


def test_without_a_key_the_line_under_generate_says_why(make_app, monkeypatch, tmp_path):
    from studio.domain.settings import load_settings
    from studio.services.studio import Studio

    for name in ("STUDIO_API_KEY", "STUDIO_BASE_URL", "STUDIO_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    keyless = Studio(load_settings())
    try:
        at = make_app(keyless).run()
        assert not at.exception, at.exception
        assert at.button(key="gen_submit").disabled
        under = [c.value for c in at.caption if "key_off" in c.value]
        assert under and "STUDIO\\_API\\_KEY" in under[0]
    finally:
        keyless.close()


def test_an_error_from_a_partly_sent_batch_stays_under_the_button(make_app, studio, monkeypatch):
    """Three proposals, one run each: the second is refused, so one run is sent and the refusal is said."""
    from studio.app.widgets import prompt_form
    from studio.domain.errors import InputError

    real, calls = StudioSession.submit, []

    def second_refused(self, request, **kw):
        calls.append(request.prompt)
        if len(calls) == 2:
            raise InputError("The second proposal was refused.")
        return real(self, request, **kw)

    # the page's own session (a StudioSession per browser session), not the studio's default one
    monkeypatch.setattr(StudioSession, "submit", second_refused)
    at = make_app(studio)
    at.session_state[prompt_form.PROPOSALS] = {
        "idea": "fruit",
        "text_model": "t",
        "items": ["a pear", "a plum", "a fig"],
    }
    at.run()
    at.text_area(key="gen_prompt").input("fruit")
    at.button(key=prompt_form.PER_PROPOSAL).click().run()
    assert not at.exception, at.exception
    assert len(calls) == 2 and len(at.session_state[feed.FEED]) == 1  # the first was sent
    studio.wait(at.session_state[feed.FEED][0]["ids"], timeout=20)
    at.run()
    assert not at.exception, at.exception
    assert any("second proposal was refused" in e.value for e in _status_errors(at))
    assert "1 image · " in _status(at)  # and, under it, what the part that was sent did


def _status_errors(at) -> list:
    """The error boxes inside the status container under the Generate button."""
    from tests.app.helpers import walk

    [box] = [node for node in walk(at._tree) if getattr(node, "key", None) == "gen_status_box"] or [None]
    assert box is not None, "no status box under Generate"
    return [
        node for node in walk(box) if getattr(node, "type", None) == "alert" or type(node).__name__ == "Error"
    ]


def test_an_old_error_gives_way_to_a_run_handed_over_by_another_page(make_app, studio):
    """A failed Remix leaves an error under Generate; History's re-run then sets the batch directly: the
    status line follows the new run, not the old error."""
    at = make_app(studio).run()
    [gen_id] = _generate(at, studio, "a glass of lemonade")
    studio.organise.trash([gen_id])
    studio.organise.empty_trash()
    at.button(key=f"gen_remix_{gen_id}").click().run()  # drawn before the purge: it can no longer be remixed
    assert any("not in the history" in e.value for e in _status_errors(at))

    rerun = studio.submit(GenerationRequest(prompt="[[latency:2]] a slow heron", model=MODEL, variants=2))
    at.session_state[progress.BATCH] = rerun  # what History's re-run (and interrupted work's Retry) do
    at.run()
    assert not at.exception, at.exception
    assert not _status_errors(at)
    assert "2 variants…" in _status(at)  # Sending… / Generating…, for the run just handed over
    studio.wait(rerun, timeout=20)
    at.run()
    assert "2 images · " in _status(at) and not _status_errors(at)


def test_a_run_still_running_is_drawn_even_past_the_feed_cap(make_app, studio):
    newer = [studio.submit(GenerationRequest(prompt=f"a fig {k}", model=MODEL, variants=8)) for k in range(4)]
    studio.wait([i for run in newer for i in run], timeout=60)
    old = studio.submit(GenerationRequest(prompt="[[latency:20]] a slow old run", model=MODEL, variants=2))
    try:
        at = make_app(studio)
        at.session_state[feed.FEED] = [
            *({"ids": run, "prompt": "a fig", "model": MODEL, "at": 0} for run in newer[::-1]),
            {"ids": old, "prompt": "a slow old run", "model": MODEL, "at": 0},
        ]
        at.run()
        assert not at.exception, at.exception
        assert any(studio.is_active(i) for i in old)
        assert at.button(key=f"gen_cancel_all_{old[0]}")  # drawn, with its Cancel, though 32 images are above
        assert all(at.button(key=f"gen_cancel_{i}") for i in old)
        assert not any("older run" in e.proto.label for e in at.get("page_link"))
    finally:
        for gen_id in old:
            studio.cancel(gen_id)


def test_a_runs_cancel_stays_that_runs_when_a_newer_run_lands_on_top(make_app, studio):
    """The Cancel the designer saw on run A still cancels A if run B lands on top before the click arrives."""
    first = studio.submit(GenerationRequest(prompt="[[latency:20]] a slow tortoise", model=MODEL))
    second: list[int] = []
    try:
        at = make_app(studio)
        at.session_state[progress.BATCH] = first
        at.run()
        [seen] = [b.key for b in at.button if b.key and b.key.startswith("gen_cancel_all")]
        second = studio.submit(GenerationRequest(prompt="[[latency:20]] a slow snail", model=MODEL))
        at.session_state[progress.BATCH] = second
        at.run()
        at.button(key=seen).click().run()
        assert not at.exception, at.exception
        studio.wait(first, timeout=20)
        assert studio.get(first[0]).status == "cancelled"
        assert studio.is_active(second[0])  # the newer run goes on
    finally:
        for gen_id in [*first, *second]:
            studio.cancel(gen_id)


def test_a_deleted_generation_says_deleted_not_running(make_app, studio):
    ids = studio.submit(GenerationRequest(prompt="a teapot", model=MODEL, variants=2))
    studio.wait(ids, timeout=20)
    at = make_app(studio)
    at.session_state[progress.BATCH] = ids
    at.run()
    studio.organise.trash([ids[0]])
    studio.organise.empty_trash()
    at.run()
    assert not at.exception, at.exception
    keys = {b.key for b in at.button if b.key}
    assert not {f"gen_cancel_{ids[0]}", f"gen_cancel_all_{ids[0]}", f"gen_view_{ids[0]}"} & keys
    assert not [e for e in at.get("skeleton")]  # nothing drawn as still running
    assert any(c.value.startswith(f"#{ids[0]} · Deleted") for c in at.caption)
    assert f"gen_view_{ids[1]}" in keys  # the other variant keeps its actions


def test_a_cancelled_variant_is_counted_as_cancelled_not_failed(make_app, studio):
    ids = studio.submit(GenerationRequest(prompt="[[latency:3]] a slow owl", model=MODEL, variants=2))
    at = make_app(studio)
    at.session_state[progress.BATCH] = ids
    at.run()
    studio.cancel(ids[1])
    studio.wait(ids, timeout=20)
    at.run()
    assert not at.exception, at.exception
    assert studio.get(ids[1]).status == "cancelled" and studio.get(ids[0]).status == "succeeded"
    assert not _status_errors(at)  # the designer's own cancel is no failure
    assert "1 image · 1 cancelled · " in _status(at)


def test_live_runs_do_not_hold_up_every_rerun(make_app, studio, monkeypatch):
    """A live run waits briefly for its jobs only on the draw right after it was sent (so a fast generation
    paints at once); every later rerun draws it without waiting, however many runs are live."""
    waits: list[list[int]] = []
    real_wait = StudioSession.wait

    def counting(self, ids, timeout=None):
        waits.append(list(ids))
        return real_wait(self, ids, timeout=timeout)

    monkeypatch.setattr(StudioSession, "wait", counting)
    live = [
        studio.submit(GenerationRequest(prompt=f"[[latency:20]] slow {k}", model=MODEL)) for k in range(3)
    ]
    try:
        at = make_app(studio)
        at.session_state[feed.FEED] = [
            {"ids": run, "prompt": "a slow run", "model": MODEL, "at": 0} for run in live
        ]
        at.run()
        at.run()
        assert not at.exception, at.exception
        assert waits == []  # three live runs, two reruns: no wait before the page is drawn
        at.text_area(key="gen_prompt").input("[[latency:20]] a slow crane")
        at.button(key="gen_submit").click().run()
        at.run()
        pressed = list(at.session_state[progress.BATCH])
        assert waits == [pressed]  # once, right after the press
    finally:
        for gen_id in range(1, max(i for run in live for i in run) + 2):
            studio.cancel(gen_id)


def test_the_tile_and_viewer_downloads_name_the_file_and_its_type(make_app, studio, monkeypatch):
    """What each download button hands the browser: the image's MIME type, a studio-<id>-… file name with the
    matching extension, and (when clicked) the bytes with the prompt embedded."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    served: dict[str, tuple] = {}
    real_add = MediaFileManager.add_deferred

    def recording(self, data_callable, mimetype, coordinates, file_name=None, *, element_id=""):
        served[element_id] = (mimetype, file_name, data_callable)
        return real_add(self, data_callable, mimetype, coordinates, file_name, element_id=element_id)

    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    at = make_app(studio).run()
    [gen_id] = _generate(at, studio, "a brass compass on a map")
    at.button(key=f"gen_view_{gen_id}").click().run()
    assert not at.exception, at.exception
    [image] = studio.get(gen_id).images
    tile = [v for k, v in served.items() if k.endswith(f"gen_dl_{gen_id}")]
    others = [v for k, v in served.items() if not k.endswith(f"gen_dl_{gen_id}")]
    assert tile and others, f"a tile download and the viewer's: {sorted(served)}"
    extension = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}[image.mime_type]
    for mimetype, file_name, data_callable in [tile[-1], others[-1]]:
        assert mimetype == image.mime_type
        assert file_name.startswith(f"studio-{gen_id}-") and file_name.endswith(extension)
        assert b"a brass compass on a map" in data_callable()


def test_a_tile_sends_the_stored_file_as_is_not_re_encoded_each_rerun(make_app, studio, monkeypatch):
    """st.image with format "auto" decodes each RGB PNG and re-encodes it as JPEG on every rerun (the bulk of
    a full feed's rerun); the feed names the file's format, so the bytes served are the file's own."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    served: list[tuple[bytes, str]] = []
    real_add = MediaFileManager.add

    def recording(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if isinstance(path_or_data, bytes):
            served.append((path_or_data, mimetype))
        return real_add(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)

    monkeypatch.setattr(MediaFileManager, "add", recording)
    at = make_app(studio).run()
    [gen_id] = _generate(at, studio, "a green bottle on a sill")
    [image] = studio.get(gen_id).images
    stored = studio.gallery.preview(image).read_bytes()
    assert (stored, image.mime_type) in served
