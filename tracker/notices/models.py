"""The Notification outbox row. One row per recipient, channel and idempotency key — never two."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        #: the idempotency guarantee: a second sweep, a restart or a second scheduler cannot queue it again
        UniqueConstraint("user_id", "channel", "key", name="uq_notifications_user_channel_key"),
        Index("ix_notifications_dispatch", "status", "next_attempt_at"),
        Index("ix_notifications_inbox", "user_id", "channel", "read_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    #: inapp | email | webhook
    channel: Mapped[str] = mapped_column(String(16), nullable=False, default="inapp")
    #: reminder, overdue, escalation, submitted, returned, verified, extension …
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    #: e.g. "reminder:task=12:days=7" — what makes a notice the same notice
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    link: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    #: pending → sent, or failed (will retry) → dead after the last try; in-app rows are born sent
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Notification {self.channel} {self.kind} u{self.user_id} {self.status}>"
