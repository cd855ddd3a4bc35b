from typing import Annotated

from fastapi import Depends

from app.claims import service
from app.claims.models import Claim
from app.db import SessionDep


async def _claim_or_404(claim_id: str, session: SessionDep) -> Claim:
    return await service.get_or_404(session=session, claim_id=claim_id)


ClaimDep = Annotated[Claim, Depends(_claim_or_404)]
