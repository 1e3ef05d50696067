"""ApiToken: a personal bearer token for the JSON API, stored only as a hash."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db


class ApiToken(db.Model):
    """One personal API token. The secret itself is shown once at creation and never stored:
    only its sha256 (looked up through a unique index) and a short prefix to recognise it by."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    #: what the user called it ("数据对接脚本")
    name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    #: the first characters of the token, for display ("ydb_Ab3x…")
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    #: sha256 hex digest of the whole token
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: None = does not expire
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: updated at most once a minute per token (cheap)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… u{self.user_id}>"

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
