from pydantic import Field

from app.enums import Scope
from app.schemas import InputSchema, Schema, Timestamp


class ApiKeyCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200)
    scope: Scope


class ApiKeyOut(Schema):
    id: str
    name: str
    scope: Scope
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: Timestamp
    revoked_at: Timestamp | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this response.")
