"""AppTest of the composer against the real emulator: form ↔ text, enhancement, the tray, the estimate."""

from __future__ import annotations

from studio.domain.requests import GenerationRequest
from tests.factories import png


def _warnings(at) -> str:
    return " ".join(w.value.replace("\\", "") for w in at.warning)


def _captions(at) -> str:
    return " ".join(c.value.replace("\\", "") for c in at.caption)


def _generate(at, studio) -> list[int]:
    at.button(key="gen_submit").click().run()
    assert not at.exception, at.exception
    ids = at.session_state["gen_ids"]
    studio.wait(ids, timeout=20)
    return ids


def test_text_to_form_and_back_loses_nothing(make_app, studio):
    at = make_app(studio).run()
    at.text_area(key="gen_prompt").input("A fox in the snow\nStyle: watercolour").run()
    at.radio(key="gen_mode").set_value("Form").run()
    assert at.text_input(key="gen_f_style").value == "watercolour"
    assert at.text_area(key="gen_f_extra").value == "A fox in the snow"
    at.text_input(key="gen_f_subject").input("a red fox").run()
    at.text_input(key="gen_f_lighting").input("blue hour").run()
    ids = _generate(at, studio)
    record = studio.get(ids[0])
    assert record.prompt == "A fox in the snow\nSubject: a red fox\nStyle: watercolour\nLighting: blue hour"
    assert record.composition == {
        "mode": "form",
        "extra": "A fox in the snow",
        "fields": {"subject": "a red fox", "style": "watercolour", "lighting": "blue hour"},
    }
    at.radio(key="gen_mode").set_value("Text").run()
    assert at.text_area(key="gen_prompt").value == record.prompt


def test_enhance_then_pick_a_proposal_and_it_is_stored(make_app, studio):
    at = make_app(studio).run()
    at.text_area(key="gen_prompt").input("a lighthouse").run()
    at.button(key="gen_enhance").click().run()
    assert not at.exception
    proposals = [at.text_area(key=f"gen_prop_{i}").value for i in range(3)]
    assert len(set(proposals)) == 3
    assert "gemini-2.5-flash" in _captions(at).replace("\\", "")
    at.text_area(key="gen_prop_1").input(proposals[1] + " at dusk").run()
    at.button(key="gen_use_1").click().run()
    assert at.text_area(key="gen_prompt").value == proposals[1] + " at dusk"
    record = studio.get(_generate(at, studio)[0])
    assert record.prompt == proposals[1] + " at dusk"
    assert record.composition["proposal"]["index"] == 1
    assert record.composition["proposal"]["idea"] == "a lighthouse"
    assert record.composition["proposal"]["edited"] is True


def test_a_remixed_experiment_cell_is_not_recorded_as_part_of_its_run(make_app, studio):
    """A remix loads the cell's prompt and settings; the new generation is the form's, not the run's."""
    [cell] = studio.submit(
        GenerationRequest(
            prompt="a teapot",
            model="gemini-2.5-flash-image",
            run_id=9,
            cell_key="k1",
            composition={"run_id": 9, "cell": {"seed": 1}},
        )
    )
    studio.wait([cell], timeout=20)
    at = make_app(studio)
    at.session_state["remix"] = studio.request_for(cell)
    at.run()
    assert at.text_area(key="gen_prompt").value == "a teapot"
    record = studio.get(_generate(at, studio)[0])
    assert (record.prompt, record.run_id, record.composition) == ("a teapot", None, None)


def test_one_image_per_proposal(make_app, studio):
    at = make_app(studio).run()
    at.text_area(key="gen_prompt").input("a teapot").run()
    at.button(key="gen_enhance").click().run()
    at.button(key="gen_per_proposal").click().run()
    ids = at.session_state["gen_ids"]
    assert len(ids) == 3
    records = studio.wait(ids, timeout=20)
    assert sorted(r.composition["proposal"]["index"] for r in records) == [0, 1, 2]
    assert {r.prompt for r in records} == {at.text_area(key=f"gen_prop_{i}").value for i in range(3)}


def test_a_failed_enhancement_leaves_the_prompt_and_says_why(make_app, studio):
    at = make_app(studio).run()
    idea = "[[fault:500]] a lighthouse"
    at.text_area(key="gen_prompt").input(idea).run()
    at.button(key="gen_enhance").click().run()
    assert not at.exception
    assert at.text_area(key="gen_prompt").value == idea
    assert "Enhancement failed; your prompt is unchanged" in _warnings(at)
    assert "gen_proposals" not in at.session_state


def test_the_tray_enforces_the_limit_and_refusals_leave_it_unchanged(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("gemini-2.5-flash-image").run()
    assert "3 references max on Nano Banana (2.5 Flash Image)" in _captions(at)
    files = [(f"ref{i}.png", png(color=(i * 40, 10, 10)), "image/png") for i in range(4)]
    at.file_uploader(key="gen_uploads").set_value(files).run()
    assert [r.name for r in at.session_state["gen_tray"]] == ["ref0.png", "ref1.png", "ref2.png"]
    assert "ref3.png" in _warnings(at) and "at most 3" in _warnings(at)
    before = at.session_state["gen_tray"]
    at.file_uploader(key="gen_uploads_1").set_value([("x.png", b"not an image", "image/png")]).run()
    assert at.session_state["gen_tray"] == before and "x.png" in _warnings(at)
    at.button(key="gen_tray_up_2").click().run()
    at.button(key="gen_tray_remove_0").click().run()
    assert [r.name for r in at.session_state["gen_tray"]] == ["ref2.png", "ref1.png"]
    at.text_area(key="gen_prompt").input("combine").run()
    record = studio.get(_generate(at, studio)[0])
    assert [r.name for r in record.references] == ["ref2.png", "ref1.png"]


def test_roles_on_a_model_that_distinguishes_characters(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("gemini-3-pro-image").run()
    assert "6 objects + 5 characters on Nano Banana Pro (3 Pro Image)" in _captions(at)
    at.file_uploader(key="gen_uploads").set_value([("face.png", png(), "image/png")]).run()
    sha = at.session_state["gen_tray"][0].sha256
    at.selectbox(key=f"gen_role_{sha[:16]}").set_value("character").run()
    assert at.session_state["gen_tray"][0].role == "character"


def test_pick_a_reference_from_history(make_app, studio):
    from studio.domain.requests import GenerationRequest

    studio.generate(GenerationRequest(prompt="a chair", model="gemini-2.5-flash-image"), timeout=20)
    at = make_app(studio).run()
    at.session_state["gen_hist_pop"] = True  # as if the picker were opened
    at.run()
    at.button(key="gen_hist_add_1").click().run()
    assert [r.name for r in at.session_state["gen_tray"]] == ["history-1.png"]


def test_the_estimate_shows_pixels_tokens_and_cost(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("gemini-3-pro-image").run()
    at.selectbox(key="gen_ratio").set_value("16:9").run()
    at.selectbox(key="gen_size").set_value("2K").run()
    at.number_input(key="gen_variants").set_value(2).run()
    text = _captions(at) + " ".join(m.value.replace("\\", "") for m in at.markdown)
    assert "2752 × 1536 px" in text and "2 images" in text and "2,240 output tokens" in text
    assert "$0.268" in text
