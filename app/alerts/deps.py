from typing import Annotated

from fastapi import Depends

from app.alerts import service
from app.alerts.models import Subscription
from app.transactions import SessionDep


async def _subscription_or_404(subscription_id: str, session: SessionDep) -> Subscription:
    return await service.get_or_404(session=session, subscription_id=subscription_id)


SubscriptionDep = Annotated[Subscription, Depends(_subscription_or_404)]
