"""The web app in a real browser: Debian's chromium driven by Playwright (headless), with every
request that leaves 127.0.0.1 blocked and recorded. Skipped, with the reason, where chromium,
Playwright or Gradio is missing; `make test-ui` installs them.

Screenshots of each tab go to $FACEDYN_UI_SCREENSHOTS (default: the test's temp folder).
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import socket
from fractions import Fraction
from pathlib import Path
from urllib.parse import urljoin

import pytest

from facedyn.io import probe_video

CHROMIUM = os.environ.get("FACEDYN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (make test-ui installs it: apt-get install chromium)")
TIMEOUT_MS = 120_000  # for a whole render on a slow machine; every wait below is bounded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TEST_LIMIT_S = 300  # a whole browser test, set-up included


@pytest.fixture(scope="module")
def _terminal_stderr(request):
    """A file descriptor of the terminal's stderr, taken while pytest's capture is off: a
    run that the watchdog ends has no chance to print what was captured."""
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        fd = os.dup(2)
    yield fd
    os.close(fd)


@pytest.fixture(autouse=True)
def _bounded(_terminal_stderr):
    """A browser test that runs past TEST_LIMIT_S fails with every thread's stack printed,
    instead of holding the suite (Playwright's own timeouts did not fire in two hung runs).
    Should that alarm not get through either (a third hung run went on for over 15 minutes
    past it), faulthandler's watchdog thread, which needs no Python code to run, prints the
    stacks and ends the whole run a minute later: a failed suite, not a hung CI."""
    def expire(signum, frame):
        faulthandler.dump_traceback(all_threads=True)
        pytest.fail(f"the browser test ran over {TEST_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_LIMIT_S)
    faulthandler.dump_traceback_later(TEST_LIMIT_S + 60, exit=True, file=_terminal_stderr)
    yield
    faulthandler.cancel_dump_traceback_later()
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def web_app():
    pytest.importorskip("gradio", reason='the web app is an extra: pip install "facedyn[ui]" (make test-ui)')
    from facedyn.ui import launch

    with launch("127.0.0.1", _free_port()) as app:
        yield app


@pytest.fixture(scope="module")
def browser(_terminal_stderr):
    sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright (make test-ui installs it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        faulthandler.dump_traceback_later(60, exit=True, file=_terminal_stderr)  # closing is bounded too
        browser.close()
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def page(browser, web_app):
    """A fresh page on the app; requests that leave this machine are refused and must not happen."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside = []

    def guard(route):
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(web_app.url)
    page.wait_for_selector("#run-express")
    yield page
    context.close()
    assert outside == [], f"the page fetched from outside this machine: {outside}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FACEDYN_UI_SCREENSHOTS") or tmp_path_factory.mktemp("ui-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _download_result(page, folder: Path, name: str) -> Path:
    page.wait_for_selector("#result video")
    # Fetched with a timeout: a browser download's save_as waits without one (a run hung here once).
    href = page.locator("#result a[download]").get_attribute("href")
    response = page.request.get(urljoin(page.url, href), timeout=TIMEOUT_MS)
    assert response.ok, f"{href}: HTTP {response.status}"
    path = folder / name
    path.write_bytes(response.body())
    return path


SHOT_TIMEOUT_MS = 30_000


def _screenshot(page, path: Path, full_page: bool = True) -> None:
    """A screenshot with the page's videos paused and animations stopped: headless Chromium
    can wait for a compositor frame that a playing video keeps from settling (a fresh-clone
    run hung twice in the codec test, Chromium and Playwright's driver each at full CPU)."""
    page.evaluate("document.querySelectorAll('video').forEach(v => v.pause())")
    page.screenshot(path=path, full_page=full_page, animations="disabled", timeout=SHOT_TIMEOUT_MS)


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(300)  # the tab's fade-in, for the screenshot


def test_first_visit_renders_the_astronaut_smiling(page, tmp_path, shots):
    _screenshot(page, shots / "express.png")
    page.click("#run-express")
    page.wait_for_selector("#preview img")
    _screenshot(page, shots / "express-preview.png")
    video = _download_result(page, tmp_path, "astronaut.mp4")
    _screenshot(page, shots / "express-done.png")
    info = probe_video(video)
    assert info.frame_count == 50 and info.fps == Fraction(25)  # the default 2 s at 25 fps
    assert (info.width, info.height) == (512, 512)  # the astronaut, pasted back at its own size
    assert page.inner_text("#status").startswith("50 frames in")


def test_upload_a_photo_and_a_driving_video(page, tmp_path, shots, image_path, video_path):
    driver = video_path("woman_smile_happy")
    _open_tab(page, "Animate")
    page.locator("#photo input[type=file]").set_input_files(str(image_path("woman_sad")))
    page.locator("#driving input[type=file]").set_input_files(str(driver))
    page.wait_for_selector("#driving video")
    _screenshot(page, shots / "animate.png")
    page.click("#run-animate")
    video = _download_result(page, tmp_path, "animated.mp4")
    _screenshot(page, shots / "animate-done.png")
    got, want = probe_video(video), probe_video(driver)
    assert got.frame_count == want.frame_count and got.fps == want.fps


def test_errors_show_one_line_and_no_traceback(page, shots, tmp_path):
    _open_tab(page, "Animate")
    page.click("#run-animate")  # no driving video
    page.get_by_text("Error: no driver").wait_for()
    status, toast = page.inner_text("#status"), page.locator("[data-testid=toast-body]").first.inner_text()
    assert status.startswith("Error: no driver: give a driving video") and "\n" not in status.strip()
    assert "no driver: give a driving video" in toast and "Traceback" not in page.content()
    _screenshot(page, shots / "animate-error.png", full_page=False)
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (320, 240), (90, 140, 200)).save(blank)
    _open_tab(page, "Express")
    page.locator("#photo input[type=file]").set_input_files(str(blank))
    page.wait_for_timeout(1000)
    page.click("#run-express")
    page.get_by_text("Error: no face found in").wait_for()
    assert "use a photo where one face is clearly visible" in page.inner_text("#status")
    assert page.locator("#result video").count() == 0
    not_an_image = tmp_path / "photo.jpg"
    not_an_image.write_text("not a photo")
    page.locator("#photo input[type=file]").set_input_files(str(not_an_image))
    page.wait_for_timeout(1000)
    page.click("#run-express")
    page.get_by_text("Error: cannot read image").wait_for()  # facedyn's own line, not Gradio's
    assert "use a JPEG or PNG photo" in page.inner_text("#status")


@pytest.mark.parametrize("tab", ["Imagine", "Motion"])
def test_every_tab_draws(page, shots, tab):
    _open_tab(page, tab)
    _screenshot(page, shots / f"{tab.lower()}.png")
    assert page.locator(f"#run-{tab.lower()}").is_visible()


def test_codec_encodes_shows_the_bitrate_and_decodes(page, tmp_path, shots, video_path):
    _open_tab(page, "Codec")
    page.locator("#codec-clip input[type=file]").set_input_files(str(video_path("woman_glasses_speaking")))
    page.wait_for_selector("#codec-clip video")
    page.click("#run-encode")
    page.get_by_text("bit/s").first.wait_for()
    summary = page.inner_text("#bitrate")
    bits = float(summary.split("dynamics at ")[1].split(" bit/s")[0])
    assert 50 < bits < 5000, summary  # a few hundred bits a second is the codec's point
    _screenshot(page, shots / "codec.png")
    page.click("#run-decode")
    video = _download_result(page, tmp_path, "decoded.mp4")
    frames = int(summary.split(" frames")[0])
    assert probe_video(video).frame_count == frames
