"""The web app's first-frame preview: how long from pressing a button to the first frame.

Two figures, medians over --runs presses: in the Studio alone (the photo prepared before, as
after a first press or for the example photo, and a photo seen for the first time), and in a
real browser (Debian's chromium via Playwright, when installed): the click to the preview
image drawn, the web round trip included.

    python bench/bench_ui.py [--runs 9]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

from facedyn.jobs import JobOptions
from facedyn.ui import launch
from facedyn.ui.studio import Studio


def studio_previews(runs: int, photo: Path) -> dict[str, float]:
    with Studio() as studio:
        studio.warm()
        warm, cold = [], []
        for k in range(runs):
            job = studio.job(studio.example_photo(), f"expression:smile:2s:{0.5 + k / runs:.2f}", JobOptions())
            start = time.perf_counter()
            studio.preview(job)
            warm.append(time.perf_counter() - start)
            studio._sources.clear()  # as a photo never seen before
            job = studio.job(photo, "expression:smile:2s", JobOptions())
            start = time.perf_counter()
            studio.preview(job)
            cold.append(time.perf_counter() - start)
    return {"studio, photo prepared before": statistics.median(warm),
            f"studio, new photo ({photo.name})": statistics.median(cold)}


def browser_previews(runs: int) -> dict[str, float]:
    chromium = shutil.which("chromium")
    if chromium is None:
        return {}
    from playwright.sync_api import sync_playwright

    times = []
    with launch("127.0.0.1", 7899) as app, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page()
        page.goto(app.url)
        page.wait_for_selector("#run-express")
        for _ in range(runs):
            start = time.perf_counter()
            page.click("#run-express")
            # the first frame and "Rendering..." arrive in one update
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Rendering')",
                                   timeout=60_000, polling=20)
            page.wait_for_selector("#preview img", timeout=60_000)
            times.append(time.perf_counter() - start)
            page.wait_for_function("document.querySelector('#status').innerText.includes('frames in')",
                                   timeout=120_000)
        browser.close()
    return {"browser: click to first frame (astronaut)": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--photo", type=Path, default=Path("../shared/testdata/images/woman_sad.jpg"))
    args = parser.parse_args()
    figures = {**studio_previews(args.runs, args.photo), **browser_previews(args.runs)}
    print("| preview | median (s) |\n|---|---|")
    for name, seconds in figures.items():
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
