from typing import Annotated

from fastapi import Depends, Request

from app.derived.documents import DerivedDocuments


async def _derived(request: Request) -> DerivedDocuments:
    documents: DerivedDocuments = request.app.state.derived
    return documents


Documents = Annotated[DerivedDocuments, Depends(_derived)]
