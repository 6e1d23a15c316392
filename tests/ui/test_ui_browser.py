"""A person's path through the Prefect UI in a real browser (Debian's Chromium driven by Playwright), with the
default film: launch make-film from its deployment page, look at every variant in the Resume dialog at
1366x768 and at 1920x1080, answer, and play the film from the run's Artifacts tab. A 30-boundary form and
the review page are checked the same way, and so is the first keyframe page of an 8-minute film (picked
scene by scene) with its "accept the recommendations for all later scenes" box.

A picture counts as seen where `document.elementFromPoint` finds it, over a grid of points inside it, after
the dialog is scrolled (vertically) to it; `bounding_box()` is not enough (it ignores clipping by the
dialog). Screenshots of every step go to test-artifacts/ui/: look at them.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright  # pip install playwright (the `test` extra); never `playwright install`

from filmstitch.app.client import FilmStitchClient
from filmstitch.checkpoints import keyframe_pages
from filmstitch.models import FilmPlan, FilmRequest
from tests.support.prefect import past_the_script
from tests.support.served import REPO, Served

pytestmark = pytest.mark.prefect_server

CHROMIUM = "/usr/bin/chromium"
# The browser must not try to reach anything but 127.0.0.1 (this machine has no other network).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SHOTS = REPO / "test-artifacts" / "ui"
SCREENS = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
MIN_WIDTH = 160
#: Waits on what shows only once the Prefect server has answered (a resume), which a loaded machine delays.
SERVER_ANSWER_MS = 90_000
STARTED = [time.monotonic()]

#: For each picture in the Resume dialog: scroll it into view, then ask what is on top at 3x3 points inside it.
SEEN = """img => {
  img.scrollIntoView({block: 'center'});
  const r = img.getBoundingClientRect();
  let hits = 0;
  for (const fx of [0.1, 0.5, 0.9]) for (const fy of [0.1, 0.5, 0.9]) {
    if (document.elementFromPoint(r.left + fx * r.width, r.top + fy * r.height) === img) hits++;
  }
  return {alt: img.alt, width: Math.round(r.width), loaded: img.complete && img.naturalWidth > 0, hits};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does it)")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(60_000)  # the Prefect UI's pages, late in a long suite on a loaded machine
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: object, name: str) -> None:
    print(f"[ui] {time.monotonic() - STARTED[0]:6.1f} s  {name}")  # shown with a failure: where time went
    page.screenshot(path=str(SHOTS / f"{name}.png"))


# Longer than the suite's 600 s: reading every text of the script in the browser took about 4 minutes on a busy
# 2-core machine, before the film's few minutes (a run was stopped by the 600 s limit waiting for checkpoint 1).
@pytest.mark.timeout(1500)
def test_the_default_film_from_the_run_form_to_the_artifacts_tab(served_deployments: Served, page: object) -> None:
    STARTED[0] = time.monotonic()
    ui, api = served_deployments.ui_url, served_deployments.api_url
    films = FilmStitchClient(api)
    run_name = f"ui-{uuid.uuid4().hex[:8]}"
    idea = "a lighthouse keeper befriends a storm that speaks in colours"

    # 1. From the home page to make-film's Run form; only the idea is typed: the default film.
    page.goto(ui + "/")
    page.get_by_role("link", name="Deployments").click()
    page.get_by_role("link", name="make-film").first.click()
    open_menu_item(page, page.get_by_role("button", name="Run", exact=True), "Custom run")
    idea_box = page.get_by_label("Idea", exact=True)
    idea_box.wait_for()
    form_text = page.inner_text("body")
    for described in ("The film idea", "Number of clips", "Frame width in pixels, a multiple of 32",
                      "Pick variants automatically", "Seconds a checkpoint waits for a person"):
        assert described in form_text, f"the Run form lacks the description {described!r}"
    page.get_by_label("Run Name", exact=True).fill(run_name)
    idea_box.fill(idea)
    shot(page, "01-run-form")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/deployments/deployment/**")
    run = wait_for(lambda: find_run(api, run_name), "the run to be created", 30)
    # The form sends every field it shows, at the defaults it shows: the request is the default film's.
    assert FilmRequest.model_validate(run["parameters"]["request"]) == FilmRequest(idea=idea)

    # 2. The script checkpoint, before any picture: the default 10-segment plan read in the Resume dialog at
    #    1366x768 by scrolling down only, with the film's estimate; one change typed and submitted.
    script = films.wait_for_checkpoint(run["id"], timeout_s=300)
    assert script.script is not None and script.name == "script"
    page.goto(f"{ui}/runs/flow-run/{run['id']}")
    dialog = open_resume_dialog(page, "read and change the script")
    assert "keeps the script as written" in dialog.inner_text()
    assert script.cost.startswith("Estimate for this film (animatic): $")
    assert script.cost.splitlines()[0] in dialog.inner_text()  # what it will cost, read before the script
    check_every_segment_is_read(page, dialog, script.script, "02-script")
    box = dialog.get_by_role("textbox")
    assert box.count() == 1, "the script form has one text field, Changes"
    box.scroll_into_view_if_needed()
    new_line = "Salt on the glass, and a voice in the thunder."
    assert new_line not in script.script_texts.values()
    box.fill(f's4.narration = "{new_line}"')
    shot(page, "02-script-answered")
    dialog.get_by_role("button", name="Submit").click()
    resumed(page)
    shot(page, "02-script-submitted")
    # What the Submit did is checked through the API: the next checkpoint comes, from the changed plan.
    folder = served_deployments.storage_dir / script.film_id
    references = films.wait_for_checkpoint(run["id"], after=script, timeout_s=300)
    plan = FilmPlan.model_validate_json((folder / "plan" / "plan.json").read_text())
    assert plan.script.segments[4].narration == new_line  # the plan the film is drawn from is the changed one
    assert json.loads((folder / "picks" / "script.json").read_text())["picked_by"] == "person"
    # 3. Checkpoint 1: a row per character and location; every variant seen; Submit as shown takes the stars.
    page.goto(f"{ui}/runs/flow-run/{run['id']}")
    dialog = open_resume_dialog(page, "choose the references")
    assert "takes the recommended picks" in dialog.inner_text() and "No answer in 60 minutes" in dialog.inner_text()
    check_every_variant_is_seen(page, dialog, 3 * len(references.rows), "02-checkpoint-1")
    dialog.get_by_role("button", name="Submit").click()
    resumed(page)

    # 4. Checkpoint 2 of the default film: 11 boundaries x 3 variants, seen at both screen sizes.
    keyframes = films.wait_for_checkpoint(run["id"], after=references, timeout_s=300)
    assert [row["tag"] for row in keyframes.rows] == [str(i) for i in range(11)]
    for screen, (width, height) in SCREENS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{ui}/runs/flow-run/{run['id']}")
        dialog = open_resume_dialog(page, "choose the keyframes")
        check_every_variant_is_seen(page, dialog, 33, f"03-checkpoint-2-{screen}")
        if screen == "1366x768":
            dialog.get_by_role("button", name="Close").click()
    # The field is labelled in words and says how to answer; a change is typed, the rest keep their stars.
    changed = (keyframes.recommended["3"] + 1) % 3
    assert "Changes" in dialog.inner_text() and "Empty: the recommended picks" in dialog.inner_text()
    changes = dialog.get_by_role("textbox")
    assert changes.count() == 1, "the keyframe form has one text field, Changes"
    changes.scroll_into_view_if_needed()
    changes.fill(f"3:{changed}")
    shot(page, "04-checkpoint-2-answered")
    dialog.get_by_role("button", name="Submit").click()
    resumed(page)

    # 5. The finished run: the film is the one card under "Flow run" in the Artifacts tab: poster and a link
    #    that plays in the browser.
    films.wait(run["id"], timeout_s=600)
    # The film was made with the changed script: its subtitles (from the speech) carry the new narration.
    assert json.loads((folder / "manifest.json").read_text())["status"] == "finished"
    assert new_line in subtitle_text(folder / "subtitles.vtt")
    film = films.film(run["id"])
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{ui}/runs/flow-run/{run['id']}")
    page.get_by_text("Completed").first.wait_for()
    page.get_by_text("Artifacts", exact=True).first.click()
    section = page.locator(".flow-run-artifacts")
    section.get_by_text("Flow run", exact=True).wait_for()
    flow_level = page.locator(".flow-run-artifacts .artifact-card").evaluate_all(
        "cards => cards.map(c => c.innerText.split('\\n').filter(Boolean).slice(0, 2).join(' | '))")
    assert flow_level[0].startswith("MARKDOWN | film-"), flow_level
    shot(page, "05-artifacts-tab")
    page.locator(".flow-run-artifacts .artifact-card").first.click()
    page.get_by_text("Play the film").first.wait_for()
    card_text = page.locator(".artifact-data-markdown").inner_text()
    assert "![" not in card_text and "](" not in card_text, f"the card shows raw markdown: {card_text[:300]}"
    poster = page.locator("img[alt='Poster: the first keyframe']")
    seen = poster.evaluate(SEEN)
    assert seen["loaded"] and seen["hits"] == 9, seen
    shot(page, "06-film-card")
    href = page.get_by_role("link", name="\u25b6 Play the film").get_attribute("href")
    assert href == film.url and href.startswith(served_deployments.films_url)
    response = httpx.get(href, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and response.headers["content-type"] == "video/mp4"

    # What the clicks did: the picks made in the browser made the film.
    path = Path(film.location)
    assert json.loads((path.parent / "picks" / "references.json").read_text())["picked_by"] == \
        "person (accepted recommendation)"
    saved = json.loads((path.parent / "picks" / "keyframes.json").read_text())
    assert saved["picked_by"] == "person" and saved["picks"] == {**keyframes.recommended, "3": changed}


def test_a_thirty_boundary_form_and_the_review_page(served_deployments: Served, page: object) -> None:
    """29 segments (30 boundaries, 90 variants) in the Resume dialog at both screen sizes; then the review
    page: large pictures, a click picks, Submit resumes the run through Prefect's REST API."""
    STARTED[0] = time.monotonic()
    ui, api = served_deployments.ui_url, served_deployments.api_url
    with FilmStitchClient(api) as films:
        run = films.create_film_run("a kite escapes over thirty rooftops", segments=29, seconds_per_segment=1.0,
                                    width=256, height=160, fps=8, sound=False, run_name=f"ui30-{uuid.uuid4().hex[:6]}")
        references = past_the_script(films, run.id)

        # The review page: click a picture other than the recommended one, Submit.
        tag = references.rows[0]["tag"]
        other = (references.rows[0]["recommended"] + 1) % 3
        page.goto(f"{served_deployments.films_url}/review/{run.id}")
        picture = page.get_by_alt_text(f"{tag}:{other}", exact=True)
        seen = picture.evaluate(SEEN)
        assert seen["loaded"] and seen["width"] >= 400, seen
        shot(page, "07-review-page")
        picture.click()
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("Picks sent: ACCEPT").wait_for(timeout=SERVER_ANSWER_MS)  # once Prefect has answered

        keyframes = films.wait_for_checkpoint(run.id, after=references, timeout_s=300)
        assert len(keyframes.rows) == 30
        for screen, (width, height) in SCREENS.items():
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{ui}/runs/flow-run/{run.id}")
            dialog = open_resume_dialog(page, "choose the keyframes")
            check_every_variant_is_seen(page, dialog, 90, f"08-thirty-boundaries-{screen}")
        httpx.post(f"{api}/flow_runs/{run.id}/set_state", json={"state": {"type": "CANCELLED"}, "force": True})
    saved = json.loads((served_deployments.storage_dir / keyframes.film_id / "picks" / "references.json").read_text())
    assert saved["picks"][tag] == other and saved["picked_by"] == "person"


def test_the_first_keyframe_page_of_an_eight_minute_film_and_accepting_the_later_scenes(
    served_deployments: Served, page: object
) -> None:
    """8 minutes of 8-second segments (60 segments, 61 boundaries, picked scene by scene), at a small picture
    size so that it draws fast: the first page at 1366x768, every variant seen, the box that accepts the
    recommendations for all later scenes seen, ticked and submitted: the run then never pauses again."""
    STARTED[0] = time.monotonic()
    ui, api = served_deployments.ui_url, served_deployments.api_url
    with FilmStitchClient(api) as films:
        run = films.create_film_run("a lighthouse keeper befriends a storm that speaks in colours", minutes=8,
                                    width=256, height=160, fps=8, sound=False, run_name=f"ui8m-{uuid.uuid4().hex[:6]}")
        references = past_the_script(films, run.id)
        assert films.resume(run.id).status == "ACCEPT"
        first = films.wait_for_checkpoint(run.id, after=references, timeout_s=600)
        film = served_deployments.storage_dir / first.film_id
        plan = FilmPlan.model_validate_json((film / "plan" / "plan.json").read_text())
        pages = keyframe_pages(plan)
        assert len(plan.keyframes) == 61 and len(pages) == len(plan.script.scenes) > 1
        assert [row["tag"] for row in first.rows] == [str(i) for i in pages[0]] and first.more_follow
        assert f"(part 1 of {len(pages)}: keyframes {pages[0][0]}-{pages[0][-1]})" in first.title

        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{ui}/runs/flow-run/{run.id}")
        dialog = open_resume_dialog(page, "choose the keyframes")
        assert "part 1 of" in dialog.inner_text()
        check_every_variant_is_seen(page, dialog, 3 * len(first.rows), "09-eight-minutes-page-1-1366x768")
        # The UI draws the boolean field as a switch under its title (the form's only switch).
        title = dialog.get_by_text("Accept the recommendations for all later scenes")
        box = dialog.get_by_role("switch")
        assert box.count() == 1 and title.is_visible()
        box.scroll_into_view_if_needed()
        assert box.evaluate(ON_TOP) and title.evaluate(ON_TOP), "the accept-the-rest switch is hidden"
        assert not box.is_checked()
        box.click()
        assert box.is_checked()
        shot(page, "10-eight-minutes-accept-the-rest")
        dialog.get_by_role("button", name="Submit").click()
        resumed(page)

        # Every later page is decided by that tick: saved as the person's acceptance, and no pause follows.
        saved = wait_for(lambda: (picks := sorted((film / "picks").glob("keyframes-*-of-*.json"))) and
                         len(picks) == len(pages) and picks or None, "the picks of every page", 120)
        for path in saved:
            assert json.loads(path.read_text())["picked_by"] == "person (accepted recommendation)", path.name
        wait_for(lambda: (film / "clips").is_dir() or None, "the clips to start", 120)
        assert films.checkpoint(run.id) is None and films.run(run.id).state_name == "Running"
        httpx.post(f"{api}/flow_runs/{run.id}/set_state", json={"state": {"type": "CANCELLED"}, "force": True})


#: A form control is what a person sees at its centre (not covered, not clipped by the dialog).
ON_TOP = """el => {
  const r = el.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return r.width > 0 && r.height > 0 && (top === el || el.contains(top) || (top && top.contains(el))
    || (el.labels && [...el.labels].some(label => label.contains(top))));
}"""


#: A text of the script in the Resume dialog: scrolled to its top, then to its bottom, it is what is on top at
#: its left edge, middle and right edge, and it lies inside the dialog's body (no sideways scrolling).
READ = """el => {
  const body = el.closest('.p-modal__body') || document.body;
  const hit = (x, y) => {
    const top = document.elementFromPoint(x, y);
    return !!top && (top === el || el.contains(top));
  };
  let hits = 0;
  for (const [block, edge] of [['start', r => r.top + 4], ['end', r => r.bottom - 4]]) {
    el.scrollIntoView({block});
    const r = el.getBoundingClientRect();
    for (const fx of [0.02, 0.5, 0.98]) if (hit(r.left + fx * r.width, edge(r))) hits++;
  }
  const r = el.getBoundingClientRect(), b = body.getBoundingClientRect();
  return {hits, width: Math.round(r.width), inside: r.left >= b.left - 1 && r.right <= b.right + 1,
          sideways: body.scrollWidth > body.clientWidth + 1, text: el.innerText.slice(0, 60)};
}"""


def check_every_segment_is_read(page: object, dialog: object, sections: list[dict], name: str) -> None:
    """Every text of every segment (narration, action, lines, keyframe prompts) is read in the dialog by
    scrolling down only: each paragraph, found by its label, is on top at six points and inside the body."""
    segments = [section for section in sections if section["heading"].startswith("Segment ")]
    assert len(segments) == 10, [section["heading"] for section in sections]
    shot(page, f"{name}-top")
    labels = [f["label"] for section in segments for f in section["fields"]]
    assert any(".line" in label for label in labels), "the default film has dialogue to read"
    for n, label in enumerate(labels):
        # The UI's markdown renderer makes a paragraph a div, a code span a <code>; the label exactly (the intro's
        # example also starts with a label).
        code = page.locator("code").filter(has_text=re.compile(f"^{re.escape(label)}$"))
        paragraph = dialog.locator(".p-modal__body .markdown-renderer__text--paragraph", has=code).first
        seen = paragraph.evaluate(READ)
        assert seen["hits"] == 6 and seen["inside"] and not seen["sideways"] and seen["width"] >= 300, (label, seen)
        if n == len(labels) // 2:
            shot(page, f"{name}-middle")
    shot(page, f"{name}-bottom")


def check_every_variant_is_seen(page: object, dialog: object, expected: int, name: str) -> None:
    """Every variant is a picture the person sees: loaded, at least MIN_WIDTH px wide, and on top at every
    point of a 3x3 grid inside it once the dialog is scrolled to it. Screenshots at the top and half way."""
    images = dialog.locator(".p-modal__body img")
    wait_for(lambda: images.count() == expected and images.evaluate_all(
        "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)") or None, f"{expected} loaded pictures", 60)
    shot(page, f"{name}-top")
    for i in range(expected):
        seen = images.nth(i).evaluate(SEEN)
        assert seen["loaded"] and seen["width"] >= MIN_WIDTH and seen["hits"] == 9, f"not seen: {seen}"
        assert ":" in seen["alt"], seen  # labelled with its row and variant
        if i == expected // 2:
            shot(page, f"{name}-middle")
    shot(page, f"{name}-bottom")


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
    """The paused run's Resume button; wait until the form (loaded separately) shows the checkpoint's heading."""
    button = page.get_by_role("button", name="Resume").first
    dialog = page.get_by_role("dialog")
    for _ in range(6):
        # A click that lands while the page is still hydrating opens nothing: click again. A dialog that did open
        # is left to load its form (closing it and clicking again lost the race on a loaded machine: the closing
        # dialog's backdrop took the next click).
        if not dialog.is_visible():
            button.click()
        try:
            dialog.get_by_text(heading).first.wait_for(timeout=15_000)
            return dialog
        except PlaywrightTimeout:
            continue
    dialog.get_by_text(heading).first.wait_for()
    return dialog


def find_run(api_url: str, name: str) -> dict | None:
    runs = httpx.post(f"{api_url}/flow_runs/filter", json={"flow_runs": {"name": {"any_": [name]}}}, timeout=10).json()
    return runs[0] if runs else None


def resumed(page: object) -> None:
    """Submit resumed the run: the UI's toast is shown. (The run's page can hold the same words hidden, so only
    a visible one counts; what the run did next is checked through the API by the steps that follow.) The toast
    comes once the server has answered the resume, which on a loaded machine can take longer than a click."""
    try:
        page.locator("text=Flow run resumed >> visible=true").first.wait_for(timeout=SERVER_ANSWER_MS)
    except PlaywrightTimeout:
        shot(page, "resume-not-confirmed")
        toasts = page.locator(".p-toast, [role=alert], [role=status]").all_inner_texts()
        raise AssertionError(f"no 'Flow run resumed' toast; the toasts shown: {toasts}") from None


def subtitle_text(vtt: Path) -> str:
    """The words of a WebVTT file, its cues' lines joined by spaces (a cue wraps a long line in two)."""
    cues = vtt.read_text(encoding="utf-8").split("\n\n")[1:]  # the header block first
    lines = [line for cue in cues for line in cue.splitlines() if line and "-->" not in line and not line.isdigit()]
    return " ".join(lines)


def wait_for(probe, what: str, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
