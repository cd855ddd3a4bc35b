from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEntry
from app.auth.deps import AdminKey
from app.pagination import PageDep
from app.schemas import Page, TimestampIn
from app.transactions import SessionDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("")
async def list_audit(
    session: SessionDep,
    page: PageDep,
    _: AdminKey,
    since: Annotated[TimestampIn | None, Query(description="Made at or after.")] = None,
    key_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[AuditEntry]:
    """Every change made through the API or the command line, newest first. Append-only."""
    rows, next_cursor = await service.list_entries(
        session=session, page=page, since=since, key_id=key_id, action=action
    )
    return Page(items=[AuditEntry.model_validate(r) for r in rows], next_cursor=next_cursor)
