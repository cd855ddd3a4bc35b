from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class DocumentChanges(Base):
    """Changes that write no event yet may change any claim's kept documents, counted by what
    made them (an outlet's correction): each adds one in its own transaction, and the outbox
    check reads the sum with the events, so every process drops what it keeps once it commits.
    """

    __tablename__ = "document_changes"

    source: Mapped[str] = mapped_column(String(50), primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)
