from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import service
from app.claims.models import Claim
from app.deps import AsOf
from app.errors import NotFound, Redirect
from app.transactions import SessionDep, SnapshotDep


async def _claim_or_404(
    claim_id: str, request: Request, session: SessionDep, moment: AsOf
) -> Claim:
    return await claim_or_redirect(claim_id, request, session, moment)


async def _claim_in_snapshot(
    claim_id: str, request: Request, session: SnapshotDep, moment: AsOf
) -> Claim:
    return await claim_or_redirect(claim_id, request, session, moment)


async def claim_or_redirect(
    claim_id: str, request: Request, session: AsyncSession, moment: datetime | None
) -> Claim:
    """The claim (as it stood at `as_of`); a merged one redirects to the claim it joined.

    A merge ends the merged claim's row, so the merges are read only for a claim not found.
    """
    try:
        return await service.get_or_404(session=session, claim_id=claim_id, moment=moment)
    except NotFound:
        into = await service.merged_into(session=session, claim_id=claim_id, moment=moment)
        if into is None:
            raise
    location = request.url.replace(path=request.url.path.replace(claim_id, into, 1))
    raise Redirect(
        f"claim {claim_id!r} was merged into {into!r}", location=str(location), into=into
    )


ClaimDep = Annotated[Claim, Depends(_claim_or_404)]
# For a read answered from one snapshot session (`SnapshotDep`), the claim included.
ClaimInSnapshot = Annotated[Claim, Depends(_claim_in_snapshot)]
