"""AdminEvent: admin actions (users, roles, policy, deletes) audited like task transitions — insert only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db


class AdminEvent(db.Model):
    __tablename__ = "admin_events"
    __table_args__ = (Index("ix_admin_events_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: user_create, user_update, user_deactivate, policy_update, plan_import, task_deadline …
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    #: what was acted on, e.g. "user:12", "policy", "plan:chuxiong-2023"
    target: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AdminEvent {self.action} {self.target}>"


class LoginAttempt(db.Model):
    """Failed sign-ins, per account and per address, for throttling (shared by every worker via the DB)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"), Index("ix_login_attempts_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.username}@{self.address}>"
