"""A polite stop loses nothing: real `studio` processes, real SIGINT/SIGTERM, real HTTP to the emulator.

The first signal stops taking work and waits for the calls already sent, which end `succeeded` with their
files on disk; work not sent yet is never sent. A second signal abandons the calls: `interrupted`, never
`failed` or `running`.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.emulator import Emulator
from studio.storage.generation_repo import INTERRUPTED_MESSAGE

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]
LATENCY = "[[latency:2.5]]"  # long enough to be in flight when the signal lands, short for the suite


@pytest.fixture
def emu():
    with Emulator(port=0) as server:
        yield server


def studio_env(tmp_path: Path, emu: Emulator | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(STUDIO_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    if emu is not None:
        env.update(STUDIO_BASE_URL=emu.url, STUDIO_API_KEY="test-key", STUDIO_AUTH="bearer")
    return env


def sent(emu: Emulator, marker: str) -> list[dict]:
    """The generate requests the emulator has received whose body holds ``marker``."""
    return [
        r
        for r in list(emu.requests)
        if r["path"].endswith(":generateContent") and marker in json.dumps(r.get("body") or {})
    ]


def wait_until(condition, what: str, proc: subprocess.Popen | None = None, timeout: float = 60.0):
    """Poll ``condition`` (a state, never a duration) until it holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def rows(data_dir: Path) -> list[dict]:
    """Every generation row, read straight from the SQLite file (no Studio in this process)."""
    db = data_dir / "studio.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute(
            "SELECT id, status, prompt, error_kind, error_message FROM generation ORDER BY id"
        )
        return [dict(row) for row in found]
    except sqlite3.OperationalError:  # the schema is still being created
        return []
    finally:
        conn.close()


def saved_images(data_dir: Path, gen_id: int) -> list[tuple[Path, str]]:
    """(file, recorded sha256) of a generation's output images."""
    conn = sqlite3.connect(f"file:{data_dir / 'studio.db'}?mode=ro", uri=True, timeout=10)
    try:
        found = conn.execute(
            "SELECT a.path, a.sha256 FROM generation_asset g JOIN asset a ON a.id = g.asset_id "
            "WHERE g.generation_id = ? AND g.role = 'output'",
            (gen_id,),
        ).fetchall()
    finally:
        conn.close()
    return [(data_dir / path, sha) for path, sha in found]


def assert_saved(data_dir: Path, row: dict) -> None:
    assert row["status"] == "succeeded", row
    images = saved_images(data_dir, row["id"])
    assert images, f"generation {row['id']} has no image"
    for path, sha in images:
        assert path.is_file(), f"{path} is missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha


def read_stderr_until(proc: subprocess.Popen, text: str) -> str:
    """Lines of stderr up to and including the first that contains ``text`` (the pipe is read as it comes)."""
    seen = ""
    for line in iter(proc.stderr.readline, ""):
        seen += line
        if text in line:
            return seen
    pytest.fail(f"stderr ended without {text!r}:\n{seen}")


def spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "studio", *args],
        env=env,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# -- studio generate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", SIGNALS)
def test_generate_waits_for_the_paid_call_and_saves_it(emu, tmp_path, signum):
    prompt = f"polite generate {signum.name} {LATENCY}"
    proc = spawn(["generate", prompt, "--json"], studio_env(tmp_path, emu), tmp_path)
    wait_until(lambda: sent(emu, prompt), "the emulator received the request", proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)

    [row] = rows(tmp_path / "data")
    assert_saved(tmp_path / "data", row)  # saved before the process exited: it is gone now
    assert "Waiting for 1 generation already paid for (Ctrl+C again to abandon it)" in err
    assert proc.returncode == 128 + signum, err
    [printed] = [json.loads(line) for line in out.splitlines()]
    assert printed["status"] == "succeeded" and printed["id"] == row["id"]
    assert len(sent(emu, prompt)) == 1


@pytest.mark.parametrize("signum", SIGNALS)
def test_generate_does_not_send_variants_that_were_only_queued(emu, tmp_path, signum):
    # one worker: the second variant waits in the queue while the first call is out
    prompt = f"polite queued {signum.name} {LATENCY}"
    env = studio_env(tmp_path, emu) | {"STUDIO_WORKERS": "1"}
    proc = spawn(["generate", prompt, "--variants", "2", "--json"], env, tmp_path)
    wait_until(lambda: sent(emu, prompt), "the emulator received the first request", proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)

    first, second = rows(tmp_path / "data")
    assert_saved(tmp_path / "data", first)
    assert second["status"] == "cancelled" and "nothing was charged" in second["error_message"]
    assert len(sent(emu, prompt)) == 1  # the queued variant was never sent
    assert "Waiting for 1 generation already paid for" in err


@pytest.mark.parametrize("signum", SIGNALS)
def test_a_second_signal_abandons_the_call_and_the_row_says_interrupted(emu, tmp_path, signum):
    prompt = f"polite abandon {signum.name} [[latency:4]]"
    proc = spawn(["generate", prompt], studio_env(tmp_path, emu), tmp_path)
    wait_until(lambda: sent(emu, prompt), "the emulator received the request", proc)
    proc.send_signal(signum)
    read_stderr_until(proc, "already paid for")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 128 + signum, err
    [row] = rows(tmp_path / "data")
    assert row["status"] == "interrupted", (row, err)  # never failed, never running
    assert row["error_kind"] == "interrupted" and row["error_message"] == INTERRUPTED_MESSAGE
    assert "marks it interrupted" in err


def test_a_call_waiting_to_retry_sends_nothing_more_after_the_signal(tmp_path):
    # a 429 with a long RetryInfo delay: the call did no work and waits to be sent again when the stop comes
    prompt = "polite retry wait [[fault:429*1]]"

    def refused(emu: Emulator) -> bool:  # the 429 went out a moment ago: the client is in its retry wait
        return any(r.get("status") == 429 and time.time() - r["answered_at"] > 0.2 for r in sent(emu, prompt))

    with Emulator(port=0, retry_delay=20) as emu:
        proc = spawn(["generate", prompt, "--json"], studio_env(tmp_path, emu), tmp_path)
        wait_until(lambda: refused(emu), "the emulator refused the first request", proc)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
        assert len(sent(emu, prompt)) == 1  # the retry was never sent

    assert proc.returncode == 128 + signal.SIGINT, err
    assert took < 5, f"the stop waited {took:.1f} s for a retry it would not send"
    [row] = rows(tmp_path / "data")
    assert row["status"] == "cancelled" and "nothing more was sent" in row["error_message"], row
    assert "already paid for" not in err  # a refused call is not paid for
    [printed] = [json.loads(line) for line in out.splitlines()]
    assert printed["status"] == "cancelled"


# The worker holds the save of a received image between its adoption journal and its row commit, as a slow
# fsync or a busy database would (``_commit_with_retries`` waits those out for seconds).
HOLD_AFTER_JOURNAL = """
import sys, threading
from studio.cli.main import main
from studio.storage import generation_repo
real = generation_repo.crashpoint
def held(name):
    if name == "after_journal":
        print("studio-test: the save is held after its journal", file=sys.stderr, flush=True)
        threading.Event().wait(60)
    real(name)
generation_repo.crashpoint = held
sys.exit(main(sys.argv[1:]))
"""


def test_a_second_signal_during_the_save_keeps_the_paid_image(emu, tmp_path):
    prompt = f"polite abandon while saving {LATENCY}"
    env = studio_env(tmp_path, emu)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_AFTER_JOURNAL, "generate", prompt],
        env=env,
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_until(lambda: sent(emu, prompt), "the emulator received the request", proc)
    proc.send_signal(signal.SIGINT)
    read_stderr_until(proc, "already paid for")
    read_stderr_until(proc, "the save is held after its journal")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err

    data = tmp_path / "data"
    [row] = rows(data)
    assert_saved(data, row)  # adopted from its journal, not marked interrupted
    assert "marks it interrupted" not in err  # nothing was given up

    restart = subprocess.run(  # the next start keeps it, and doctor finds no orphaned file
        [sys.executable, "-m", "studio", "doctor"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert restart.returncode == 0, restart.stdout + restart.stderr
    [row] = rows(data)
    assert_saved(data, row)
    assert not list((data / "journal").glob("*.json"))


# -- studio batch (a run: its feeder) -----------------------------------------------------------------


@pytest.mark.parametrize("signum", SIGNALS)
def test_batch_saves_the_rows_in_flight_sends_no_more_and_resumes(emu, tmp_path, signum):
    marker = f"polite batch {signum.name}"
    prompts = [f"{marker} {i} {LATENCY}" for i in range(4)]
    path = tmp_path / "rows.csv"
    path.write_text("prompt\n" + "".join(f'"{p}"\n' for p in prompts), encoding="utf-8")
    env = studio_env(tmp_path, emu)
    proc = spawn(["batch", str(path), "--json", "--concurrency", "2"], env, tmp_path)
    wait_until(lambda: len(sent(emu, marker)) == 2, "two rows are in flight", proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)

    saved = rows(tmp_path / "data")
    assert len(saved) == 2
    for row in saved:
        assert_saved(tmp_path / "data", row)
    assert len(sent(emu, marker)) == 2  # the two rows not sent yet were not sent after the signal
    assert "Waiting for 2 generations already paid for (Ctrl+C again to abandon them)" in err
    assert proc.returncode == 128 + signum, err

    rerun = subprocess.run(
        [sys.executable, "-m", "studio", "batch", str(path), "--concurrency", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "2 of 4 cells already done" in rerun.stderr
    assert len(sent(emu, marker)) == 4  # only the two missing rows were paid for
    after = rows(tmp_path / "data")
    assert sorted(row["prompt"] for row in after) == sorted(prompts)
    for row in after:
        assert_saved(tmp_path / "data", row)


def test_batch_prints_every_row_the_stop_ended_as_final(emu, tmp_path):
    # one worker, every row queued behind it: the stop ends the queued rows, and what batch prints of each
    # is its final row (as the database has it), never "pending"
    marker, ROWS = "polite batch printed", 64
    path = tmp_path / "rows.csv"
    path.write_text(
        "prompt\n" + "".join(f'"{marker} {i} {LATENCY}"\n' for i in range(ROWS)), encoding="utf-8"
    )
    env = studio_env(tmp_path, emu) | {"STUDIO_WORKERS": "1"}
    proc = spawn(["batch", str(path), "--json", "--concurrency", str(ROWS)], env, tmp_path)
    wait_until(lambda: sent(emu, marker), "the first row is in flight", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err

    printed = {record["id"]: record["status"] for record in map(json.loads, out.splitlines())}
    saved = {row["id"]: row["status"] for row in rows(tmp_path / "data")}
    assert printed == saved
    assert sorted(saved.values()) == ["cancelled"] * (len(saved) - 1) + ["succeeded"]  # rows not fed: none
    assert len(sent(emu, marker)) == 1


@pytest.mark.parametrize("signum", SIGNALS)
def test_batch_second_signal_leaves_its_rows_interrupted(emu, tmp_path, signum):
    marker = f"polite batch abandon {signum.name}"
    path = tmp_path / "rows.csv"
    path.write_text(
        "prompt\n" + "".join(f'"{marker} {i} [[latency:4]]"\n' for i in range(3)), encoding="utf-8"
    )
    proc = spawn(["batch", str(path), "--concurrency", "2"], studio_env(tmp_path, emu), tmp_path)
    wait_until(lambda: len(sent(emu, marker)) == 2, "two rows are in flight", proc)
    proc.send_signal(signum)
    read_stderr_until(proc, "Waiting for 2 generations already paid for")
    proc.send_signal(signum)
    proc.communicate(timeout=60)

    assert proc.returncode == 128 + signum
    assert [row["status"] for row in rows(tmp_path / "data")] == ["interrupted", "interrupted"]
    assert len(sent(emu, marker)) == 2


# -- the save path at interpreter exit ----------------------------------------------------------------


def test_a_paid_image_is_saved_while_the_interpreter_shuts_down(emu, tmp_path):
    # What `python -m streamlit run` does on a stop: the script returns while a call is out, and the
    # interpreter's exit waits for the job's thread. Its save must not need a pool that exit has closed.
    prompt = f"saved at exit {LATENCY}"
    script = (
        "from studio.domain.settings import load_settings\n"
        "from studio.domain.requests import GenerationRequest\n"
        "from studio.services.studio import Studio\n"
        f"Studio(load_settings()).submit(GenerationRequest(prompt={prompt!r}, model='gemini-2.5-flash-image'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=studio_env(tmp_path, emu),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [row] = rows(tmp_path / "data")
    assert_saved(tmp_path / "data", row)
    assert "cannot schedule new futures" not in done.stderr


# -- studio run, driven from Chromium -----------------------------------------------------------------


def listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_studio_run(tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, int, Path]:
    from tests.browser.browser import free_port, wait_for_port

    port = free_port()
    log = tmp_path / "studio-run.log"  # a file, not a pipe nobody reads: a full pipe would stall the server
    with log.open("w") as out:
        # its own session, so whatever it leaves behind can be cleaned up as a group
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "run", "--port", str(port), *extra],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    wait_for_port(port, proc, log, timeout=60)
    return proc, port, log


def stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.mark.browser
@pytest.mark.parametrize("signum", SIGNALS)
def test_studio_run_saves_the_generation_in_flight_before_it_exits(tmp_path, signum):
    from tests.browser.browser import chromium_page

    data = tmp_path / "data"
    proc, port, log = start_studio_run(tmp_path, studio_env(tmp_path, None), "--demo")
    try:
        with chromium_page(f"http://127.0.0.1:{port}") as page:
            prompt = page.get_by_label("Prompt", exact=True)
            prompt.wait_for(timeout=60_000)
            prompt.fill(f"A paper crane, stopped by {signum.name} {LATENCY}")
            prompt.press("Tab")  # blur commits the text area before the button is pressed
            page.get_by_role("button", name="Generate").click()
            wait_until(lambda: any(r["status"] == "running" for r in rows(data)), "the call is out", proc)
            proc.send_signal(signum)
            status = proc.wait(timeout=90)  # it exits by itself
        [row] = rows(data)
        assert_saved(data, row)  # the process is gone: it saved before it exited
        assert status == 0
        assert not listening(port)  # the server stopped with it (not left behind as an orphan)
        text = log.read_text(errors="replace")
        assert "Waiting for 1 generation already paid for (Ctrl+C again to abandon it)" in text, text
        assert "Traceback" not in text, text
    finally:
        stop_group(proc)


@pytest.mark.browser
def test_studio_run_second_ctrl_c_abandons_the_call_as_interrupted(tmp_path):
    from tests.browser.browser import chromium_page

    data = tmp_path / "data"
    proc, port, log = start_studio_run(tmp_path, studio_env(tmp_path, None), "--demo")
    try:
        with chromium_page(f"http://127.0.0.1:{port}") as page:
            prompt = page.get_by_label("Prompt", exact=True)
            prompt.wait_for(timeout=60_000)
            prompt.fill("A paper crane, abandoned [[latency:6]]")
            prompt.press("Tab")
            page.get_by_role("button", name="Generate").click()
            wait_until(lambda: any(r["status"] == "running" for r in rows(data)), "the call is out", proc)
            proc.send_signal(signal.SIGINT)
            wait_until(lambda: "already paid for" in log.read_text(errors="replace"), "the stop waits", proc)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 128 + signal.SIGINT
        [row] = rows(data)
        assert row["status"] == "interrupted" and row["error_message"] == INTERRUPTED_MESSAGE, row
    finally:
        stop_group(proc)


@pytest.mark.browser
def test_an_experiment_run_stops_politely_and_resumes(emu, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from tests.browser.browser import chromium_page, settle

    marker = "polite experiment"
    env = studio_env(tmp_path, emu)
    proc, port, log = start_studio_run(tmp_path, env)
    try:
        with chromium_page(f"http://127.0.0.1:{port}") as page:
            main = page.locator("[data-testid='stMain']")
            page.locator("textarea").first.wait_for(timeout=60_000)
            page.locator("[data-testid='stSidebarNav']").get_by_text("Experiment", exact=True).click()
            template = page.get_by_label("Prompt or template", exact=True)
            template.wait_for(timeout=30_000)
            template.fill(f"{marker} {{n}} {LATENCY}")
            template.press("Control+Enter")
            values = page.get_by_label("Values for {n} (one per line)", exact=True)
            values.wait_for(timeout=30_000)
            values.fill("one\ntwo\nthree\nfour\nfive")
            values.press("Control+Enter")
            settle(page)
            concurrency = page.get_by_label("Run at most this many at once", exact=True)
            concurrency.fill("2")
            concurrency.press("Enter")
            settle(page)
            expect(main.get_by_text("5 cells").first).to_be_visible(timeout=30_000)
            main.get_by_role("button", name="Run", exact=True).click()
            wait_until(lambda: len(sent(emu, marker)) == 2, "two cells are in flight", proc)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=90)
        saved = rows(tmp_path / "data")
        assert len(saved) == 2
        for row in saved:
            assert_saved(tmp_path / "data", row)
        assert len(sent(emu, marker)) == 2  # the three cells not sent yet were not sent after the signal
        assert "Waiting for 2 generations already paid for (Ctrl+C again to abandon them)" in log.read_text()
    finally:
        stop_group(proc)

    # the run is resumable: a new studio pays only for the three missing cells
    from studio.domain.settings import load_settings
    from studio.services import runs
    from studio.services.studio import Studio

    for name in ("STUDIO_DATA_DIR", "STUDIO_BASE_URL", "STUDIO_API_KEY", "STUDIO_AUTH"):
        monkeypatch.setenv(name, env[name])
    resumed = Studio(load_settings())
    try:
        [run] = resumed._store.runs.list_runs()
        assert run.status == "cancelled"
        assert runs.resume(resumed, run.id, concurrency=2) == 3
        assert runs.wait(resumed, run.id, timeout=60)
        assert runs.progress(resumed, run.id).succeeded == 5
    finally:
        resumed.close()
    assert len(sent(emu, marker)) == 5
