import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.claims import matching
from app.errors import problem_body, problem_response
from app.migrate import is_at_head

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, str] | JSONResponse:
    """The database answers and carries every migration; how claims are being matched."""
    try:
        migrated = await is_at_head(request.app.state.engine)
    except Exception:
        return problem_response(
            problem_body(503, "not-ready", "Not ready", "the database cannot be reached")
        )
    if not migrated:
        return problem_response(
            problem_body(503, "not-ready", "Not ready", "the database is not migrated to head")
        )
    # Loading the model can take a moment: done off the event loop, once per process.
    details = await asyncio.to_thread(matching.status)
    return {"status": "ready", **details}
