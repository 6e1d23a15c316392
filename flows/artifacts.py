"""What a film run shows in the Prefect UI's Artifacts tab: the film (poster and link), the script, the picks.

The film's card is made in the flow itself, so it belongs to the flow run: the top of its Artifacts tab,
alone (stage progress cards are removed when their stage is done). The script and the picks are made by
small tasks, so they follow under "Task runs". Model and user text goes in as text: markdown characters are
escaped, so a title can never become a link or HTML.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from filmstitch import images
from filmstitch.checkpoints import escape_markdown as md
from filmstitch.models import FilmPlan, Picks
from filmstitch.settings import Settings
from filmstitch.storage import ArtifactRef, FilmStore, LocalStore
from filmstitch.tasks.common import FilmContext, VariantRef, artifact_key
from filmstitch.tasks.estimate import cost_line

LINK_EXPIRES_S = 7 * 24 * 3600


def film_link(store: FilmStore, key: str) -> str | None:
    """An http(s) address a browser can open: the film server's for local storage (when `filmstitch server`
    runs one), a presigned URL for S3; None when there is none."""
    if isinstance(store.store, LocalStore):
        films_url = Settings().films_url
        return f"{films_url}/films/{store.film_id}/{key}" if films_url else None
    url = store.url(key, expires_s=LINK_EXPIRES_S)
    return url if url.startswith("http") else None


def film_location(store: FilmStore, key: str) -> str:
    """Where the film is, for people and programs: a local path, or s3://bucket/prefix/film/key."""
    if isinstance(store.store, LocalStore):
        return str(store.store.root / store.full_key(key))
    return f"{store.store.describe()}/{store.full_key(key)}"


@task(name="publish-script", cache_policy=NO_CACHE, persist_result=False)
def publish_script(film: FilmContext, plan: FilmPlan) -> None:
    lines = [f"# {md(plan.script.title)}", f"*{md(plan.script.logline)}*", f"Written by: {md(plan.writer)}"]
    for segment in plan.script.segments:
        lines.append(f"### {segment.index + 1}. {md(segment.title)} ({md(segment.setting)})")
        lines.append(md(segment.narration))
        lines.append(f"*{md(segment.action)}*")
        lines += [f"> **{md(d.speaker)}:** {md(d.line)}" for d in segment.dialogue]
    lines.append("## Characters")
    lines += [f"- **{md(c.name)}** ({md(c.role)}): {md(c.description)}" for c in plan.characters]
    lines.append("## Locations")
    lines += [f"- **{md(e.name)}**: {md(e.description)}" for e in plan.environments]
    create_markdown_artifact("\n\n".join(lines), key=artifact_key(film.film_id, "script"), description="The script")


@task(name="publish-picks", cache_policy=NO_CACHE, persist_result=False)
def publish_picks(film: FilmContext, plan: FilmPlan, picks: Picks) -> None:
    rows = [{"checkpoint": "references", "row": s.name, "variant": picks.references[s.id],
             "picked by": picks.picked_by.get("references", "")} for s in plan.subjects]
    by_boundary = {}
    for name, who in picks.picked_by.items():
        if name.startswith("keyframes"):
            by_boundary[name] = who
    keyframe_who = ", ".join(sorted(set(by_boundary.values())))
    rows += [{"checkpoint": "keyframes", "row": f"keyframe {i}", "variant": v, "picked by": keyframe_who}
             for i, v in enumerate(picks.keyframes)]
    create_table_artifact(rows, key=artifact_key(film.film_id, "picks"), description="The picks and who made them")


def publish_film(film: FilmContext, plan: FilmPlan, made: ArtifactRef, poster: VariantRef) -> str:
    """The film's card: poster frame (the first keyframe), a link that plays it, where it is. Returns where."""
    store = film.store()
    location = film_location(store, made.key)
    link = film_link(store, made.key)
    poster_url = film_link(store, poster.thumb.key) or images.data_uri(store.get_verified(poster.thumb))
    meta = made.meta
    # The poster is a picture of its own, never inside the link: the Prefect UI's markdown renderer shows an
    # image inside a link as its raw markdown text.
    lines = [f"# {md(plan.script.title)}", f"![Poster: the first keyframe]({poster_url})"]
    if link:
        lines += [f"**[\u25b6 Play the film]({link})**"]
    else:
        lines += ["Run `filmstitch server` to watch local films from the browser."]
    lines += [
        f"`{location.replace('`', '')}`",  # a code span shows its text literally: no escaping inside
        (f"{meta.get('duration_s')} s, {meta.get('width')}x{meta.get('height')} at {meta.get('fps')} fps, "
        f"{len(plan.script.segments)} segments, sha256 `{made.sha256}`"),
        f"Written by: {md(plan.writer)}; rendered by: {md(film.renderer)}",
    ]
    lines += [md(line) for line in [cost_line(store, film.storage)] if line]  # the estimate beside what was spent
    create_markdown_artifact("\n\n".join(lines), key=artifact_key(film.film_id, "film"), description="The film")
    return location
