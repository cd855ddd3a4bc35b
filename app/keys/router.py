from fastapi import APIRouter, Request, Response, status

from app.auth.deps import AdminKey
from app.keys import service
from app.keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.pagination import PageDep
from app.schemas import Page
from app.transactions import SessionDep

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_key(body: ApiKeyCreate, session: SessionDep, principal: AdminKey) -> ApiKeyCreated:
    api_key, clear = await service.create_key(
        session=session, name=body.name, scope=body.scope, actor=principal
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(api_key).model_dump(), key=clear)


@router.get("")
async def list_keys(session: SessionDep, page: PageDep, _: AdminKey) -> Page[ApiKeyOut]:
    keys, next_cursor = await service.list_keys(session=session, page=page)
    return Page(items=[ApiKeyOut.model_validate(k) for k in keys], next_cursor=next_cursor)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(
    key_id: str, request: Request, session: SessionDep, principal: AdminKey
) -> Response:
    await service.revoke_key(session=session, key_id=key_id, actor=principal)
    # Other processes stop trusting the key within key_cache_seconds; this one at once.
    request.app.state.verified_keys.forget(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
