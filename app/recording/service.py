"""Recording one sighting, as `POST /v1/sightings` does."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.db import utcnow
from app.recording.recorder import Recorder, recording
from app.recording.schemas import SightingCreate
from app.sightings.models import Sighting
from app.sightings.service import get_or_404


async def record(
    *,
    session: AsyncSession,
    principal: Principal,
    data: SightingCreate,
    now: datetime | None = None,
) -> Sighting:
    """Record one appearance of a claim in an outlet, with the sightings it took the claim from."""

    async def one(recorder: Recorder) -> str:
        await recorder.read_ahead([data])
        return await recorder.record(data)

    sighting_id = await recording(session, principal, now or utcnow(), one)
    return await get_or_404(session=session, sighting_id=sighting_id)
