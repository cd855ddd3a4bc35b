from fastapi import APIRouter, Request

from app.auth.deps import WriteKey
from app.transactions import SessionDep
from app.url_info import service
from app.url_info.schemas import UrlInfo, UrlInfoQuery

router = APIRouter(prefix="/v1/url-info", tags=["sightings"])


@router.post("")
async def url_info(
    body: UrlInfoQuery, session: SessionDep, _: WriteKey, request: Request
) -> UrlInfo:
    """Read a URL before recording it: its outlet, the sightings already there, what the page
    says (title, date, language) and the tracked claims it matches. A page that cannot be read
    answers 200 with `page` null and `problem`; an address Tracer does not fetch is a 422."""
    return await service.read_url(
        session=session,
        url=body.url,
        fetcher=request.app.state.page_fetcher,
        settings=request.app.state.settings,
    )
