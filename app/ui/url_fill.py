"""Logging a sighting from its URL: what a pasted URL proposes for the form's other fields.

The form's own script asks for this fragment when a URL is pasted or changed; it shows what is
known about the address (its outlet, sightings already recorded there, the claims the page
matches) and carries the values it proposes for Outlet, Published at, Date precision, Title and
Language, which the script puts in the fields a person has left empty.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.errors import Invalid
from app.transactions import SessionDep
from app.ui.deps import Writer
from app.ui.pages import render
from app.url_info import service as url_info
from app.urls import UrlRefused, check_web_url

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/fragments/url-info", response_class=HTMLResponse)
async def url_info_fragment(
    request: Request,
    session: SessionDep,
    _: Writer,
    url: Annotated[str, Query(max_length=4096)] = "",
) -> HTMLResponse:
    context: dict[str, object] = {"info": None, "refused": None}
    if url.strip():
        try:
            context["info"] = await url_info.read_url(
                session=session,
                url=check_web_url(url),
                fetcher=request.app.state.page_fetcher,
                settings=request.app.state.settings,
            )
        except UrlRefused as exc:
            context["refused"] = f"This URL {exc}."
        except Invalid as exc:
            context["refused"] = f"This URL {exc.detail}, so it is not read."
    return render(request, "fragments/url_info.html", context)
