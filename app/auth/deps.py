from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.gate import principal_of
from app.auth.service import Principal, authenticate
from app.config import Settings
from app.enums import Scope
from app.errors import Forbidden, Unauthorized
from app.transactions import SessionmakerDep

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer trk_...`")


async def current_principal(
    request: Request,
    sessionmaker: SessionmakerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    admitted = principal_of(request.scope)
    if admitted is not None:
        return admitted
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("an API key is required: send `Authorization: Bearer <key>`")
    settings: Settings = request.app.state.settings
    bootstrap = settings.bootstrap_admin_key
    # A session only here, where the gate has not already admitted the key: every request
    # would otherwise open (and commit) a transaction it never uses.
    async with sessionmaker() as session:
        principal = await authenticate(
            session=session,
            presented=credentials.credentials,
            bootstrap_key=bootstrap.get_secret_value() if bootstrap else None,
        )
    if principal is None:
        raise Unauthorized("the API key is unknown or revoked")
    return principal


def require(scope: Scope) -> object:
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.may(scope):
            raise Forbidden(
                f"this key has scope {principal.scope.value!r}; {scope.value!r} is needed"
            )
        return principal

    return Depends(_check)


ReadKey = Annotated[Principal, require(Scope.read)]
WriteKey = Annotated[Principal, require(Scope.write)]
AdminKey = Annotated[Principal, require(Scope.admin)]
