"""Pages for people under /ui/: thin routers, one per thing a person does, over the domains'
services, as the API's routes are."""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.ui import (
    claim_edits,
    claims,
    denials,
    evidence,
    network,
    outlets,
    pages,
    recording,
    sightings,
    signin,
    url_fill,
)
from app.ui.security import PageHeaders


def install(app: FastAPI) -> None:
    """Serve the pages, their files and their security headers from this app."""
    pages.install(app)
    app.add_middleware(PageHeaders)
    # /ui/sightings/new before /ui/sightings/{id}: the first route that matches answers.
    for module in (
        signin,
        claims,
        claim_edits,
        recording,
        url_fill,
        sightings,
        evidence,
        denials,
        outlets,
        network,
    ):
        app.include_router(module.router)
    app.mount(pages.STATIC_URL, StaticFiles(directory=pages.STATIC), name="ui-static")
