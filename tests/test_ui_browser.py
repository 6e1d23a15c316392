"""A person's path through the Prefect UI, in a real browser (Debian's Chromium driven by Playwright):
launch make-film from its deployment page, answer both checkpoints in the Resume dialog, find the film.

Screenshots of every step go to test-artifacts/ui/ (look at them: the checkpoint forms must show the
variants as pictures). REST is used only to wait (for a pause, for the end) and to check what the
UI did; every action is a click or a keystroke in the page.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright  # pip install playwright (the `test` extra); never `playwright install`

from filmstitch.app.client import FilmStitchClient
from tests.support.served import REPO, Served

pytestmark = pytest.mark.prefect_server

CHROMIUM = "/usr/bin/chromium"
# The browser must not try to reach anything but 127.0.0.1 (this machine has no other network).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SHOTS = REPO / "test-artifacts" / "ui"
FILM_FORM = {"segments": "2", "seconds_per_segment": "2", "width": "256", "height": "160", "fps": "8", "seed": "11"}
VARIANTS = 3
STARTED = [time.monotonic()]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does it)")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(30_000)
        try:
            yield context.new_page()
        finally:
            context.close()


def shot(page: object, name: str, element: object | None = None) -> None:
    print(f"[ui] {time.monotonic() - STARTED[0]:6.1f} s  {name}")  # shown with the failure, to see where time went
    (element or page).screenshot(path=str(SHOTS / f"{name}.png"), **({} if element else {"full_page": True}))


def test_launch_and_resume_a_film_in_the_browser(served_deployments: Served, page: object) -> None:
    STARTED[0] = time.monotonic()
    ui = served_deployments.ui_url
    films = FilmStitchClient(served_deployments.api_url)
    run_name = f"ui-{uuid.uuid4().hex[:8]}"
    idea = "a lighthouse keeper befriends a lost whale"

    # 1. From the home page to make-film's deployment page and its Run form.
    page.goto(ui + "/")
    page.get_by_role("link", name="Deployments").click()
    page.get_by_role("link", name="make-film").first.click()
    open_menu_item(page, page.get_by_role("button", name="Run"), "Custom run")

    # 2. The Run form explains every parameter (from the flow's docstring); type the idea and a small film.
    idea_box = page.get_by_label("idea", exact=True)
    idea_box.wait_for()
    form_text = page.inner_text("main")
    for described in ("The film idea", "Number of clips", "Frame width in pixels, a multiple of 32",
                      "Pick variants automatically", "Seconds a checkpoint waits for a person"):
        assert described in form_text, f"the Run form lacks the description {described!r}"
    page.get_by_label("Run Name", exact=True).fill(run_name)
    idea_box.fill(idea)
    for name, value in FILM_FORM.items():
        page.get_by_label(f"{name} (Optional)", exact=True).fill(value)
    shot(page, "01-run-form")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/deployments/deployment/**")

    run = wait_for(lambda: find_run(served_deployments.api_url, run_name), "the run to be created", 30)
    assert run["parameters"]["idea"] == idea and run["parameters"]["segments"] == 2
    references = films.wait_for_checkpoint(run["id"], timeout_s=180)

    # 3. The paused run, found from the deployment's list of runs.
    page.reload()
    page.get_by_role("link", name=run_name).first.click()
    page.get_by_text("Paused").first.wait_for()
    shot(page, "02-paused-run")

    # 4. Checkpoint 1: references. Pictures in the form, one row per subject, picks typed in.
    dialog = open_resume_dialog(page, "choose the references")
    assert "picks by itself" in dialog.inner_text()  # says what happens on timeout
    check_thumbnails(dialog, rows=len(references.fields))
    shot(page, "03-checkpoint-1-variants", dialog)
    subject_picks = {field: (i + 1) % VARIANTS for i, field in enumerate(references.fields)}
    for field, spec in references.fields.items():
        page_field = dialog.get_by_label(f"{spec.title} (Optional)", exact=True)
        page_field.fill(str(subject_picks[field]))
    page_field.scroll_into_view_if_needed()
    shot(page, "04-checkpoint-1-picks", dialog)
    dialog.get_by_role("button", name="Resume").click()
    page.get_by_text("Flow run resumed").wait_for()

    # 5. Checkpoint 2: one keyframe per boundary (segments + 1 = 3).
    keyframes = films.wait_for_checkpoint(run["id"], after=references, timeout_s=180)
    page.reload()
    dialog = open_resume_dialog(page, "choose the keyframes")
    check_thumbnails(dialog, rows=3)
    shot(page, "05-checkpoint-2-variants", dialog)
    keyframe_picks = [2, 0, 1]
    for (field, spec), pick in zip(keyframes.fields.items(), keyframe_picks):
        page_field = dialog.get_by_label(f"{spec.title} (Optional)", exact=True)
        page_field.fill(str(pick))
    page_field.scroll_into_view_if_needed()
    shot(page, "06-checkpoint-2-picks", dialog)
    dialog.get_by_role("button", name="Resume").click()
    page.get_by_text("Flow run resumed").wait_for()

    # 6. The finished run and its film artifact.
    films.wait(run["id"], timeout_s=240)
    film = films.film(run["id"])
    page.reload()
    page.get_by_text("Completed").first.wait_for()
    page.get_by_role("tab", name="Artifacts").click()
    film_key = next(k for k in artifact_keys(served_deployments.api_url, run["id"]) if k.startswith("film-")
                    and not k.startswith("film-summary-"))
    for kind in ("script-", "picks-", "film-summary-"):
        page.get_by_text(kind, exact=False).first.wait_for()
    shot(page, "07-finished-run-artifacts")
    page.get_by_text(film_key, exact=True).click()
    page.wait_for_url("**/artifacts/key/**")
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.get_by_text(film.title).first.wait_for()
    shot(page, "08-film-artifact")

    # What the clicks did: the picks typed in the browser made the film.
    path = Path(unquote(urlparse(film.url).path))
    assert path.name == "film.mp4" and path.stat().st_size > 1000
    assert json.loads((path.parent / "picks" / "references.json").read_text())["picks"] == subject_picks
    saved = json.loads((path.parent / "picks" / "keyframes.json").read_text())
    assert saved == {**saved, "picks": keyframe_picks, "picked_by": "person"}


def open_menu_item(page: object, button: object, item: str) -> None:
    """Open a dropdown and pick an item. A click that lands while the page is still hydrating opens
    nothing (a CI run timed out so), so the button is clicked again until the item shows."""
    entry = page.get_by_role("menuitem", name=item)
    for _ in range(4):
        button.click()
        try:
            entry.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    entry.click()


def open_resume_dialog(page: object, heading: str) -> object:
    """The run's menu -> Resume; wait until the form (loaded separately) shows the checkpoint's heading."""
    open_menu_item(page, page.get_by_role("button", name="Open menu").first, "Resume")
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(heading).wait_for()
    return dialog


def check_thumbnails(dialog: object, rows: int) -> None:
    """Every variant is a picture inside the dialog: rows x 3 <img>, each decoded (naturalWidth > 0) and laid
    out at a visible size, from a data: URI (local storage)."""
    expected = rows * VARIANTS
    loaded = "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length"
    wait_for(lambda: dialog.locator("img").evaluate_all(loaded) == expected or None,
             f"{expected} loaded thumbnails in the dialog", 20)
    images = dialog.locator("img").evaluate_all(
        "imgs => imgs.map(i => ({w: i.naturalWidth, box: i.getBoundingClientRect().width, alt: i.alt,"
        " src: i.src.slice(0, 30)}))"
    )
    assert len(images) == expected
    for image in images:
        assert image["w"] > 0 and image["box"] >= 40, f"a thumbnail is not shown: {image}"
        assert image["src"].startswith("data:image/jpeg;base64,") and " variant " in image["alt"], image
    assert dialog.locator("img").first.is_visible()


def find_run(api_url: str, name: str) -> dict | None:
    runs = httpx.post(f"{api_url}/flow_runs/filter", json={"flow_runs": {"name": {"any_": [name]}}}, timeout=10).json()
    return runs[0] if runs else None


def artifact_keys(api_url: str, run_id: str) -> list[str]:
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    return [a["key"] for a in httpx.post(f"{api_url}/artifacts/filter", json=body, timeout=10).json() if a["key"]]


def wait_for(probe, what: str, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
