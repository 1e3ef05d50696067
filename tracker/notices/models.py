"""Notices: the outbox row (Notification), each user's delivery preferences and per-unit group robots."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db
from tracker.units.models import Unit

#: webhook payload styles understood by notifications.channels.WebhookChannel
WEBHOOK_FLAVORS = ("dingtalk", "wecom", "generic")
WEBHOOK_FLAVOR_LABELS = {"dingtalk": _l("钉钉群机器人"), "wecom": _l("企业微信群机器人"),
                         "generic": _l("通用 JSON（HMAC 签名）")}


class Notification(db.Model):
    """One row per recipient, channel and idempotency key — never two (the unique constraint).

    Life of an e-mail / webhook row: ``pending`` → ``sent``; a retryable failure makes it ``failed``
    with ``next_attempt_at`` pushed back, the last try (or a permanent failure) makes it ``dead``.
    A row with ``status='pending'`` and no ``next_attempt_at`` is *held* for the recipient's daily
    digest; the daily-digest job releases it (sets ``next_attempt_at`` and ``batch``). In-app rows
    are born ``sent``; ``read_at`` marks them read.
    """

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
    #: reminder, overdue, escalation, interview, weekly_digest, submitted, returned, verified …
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    #: e.g. "reminder:task=12:days=7:due=2026-12-31" — what makes a notice the same notice
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    link: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    #: what the renderers need (task title, unit, deadline, days left/overdue …); ``target`` for group robots
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    #: pending → sent, or failed (will retry) → dead after the last try; in-app rows are born sent
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: the delivery this row went out in: "daily:2026-12-01" for a daily digest; rows of one batch, user
    #: and channel are sent as one message
    batch: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Notification {self.channel} {self.kind} u{self.user_id} {self.status}>"


class NoticePreference(db.Model):
    """How one user wants to be told. No row means the defaults (e-mail on, daily digest on, no webhook)."""

    __tablename__ = "notice_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    #: True: e-mail/webhook notices wait for one daily digest; False: each goes out as soon as it is due
    digest_daily: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    #: a personal robot/endpoint; empty = none (the unit's robot, if any, still gets the unit's notices)
    webhook_url: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    webhook_flavor: Mapped[str] = mapped_column(String(16), nullable=False, default="dingtalk")
    webhook_secret: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<NoticePreference u{self.user_id} email={self.email_enabled} digest={self.digest_daily}>"


class UnitWebhook(db.Model):
    """A unit's group robot (钉钉/企业微信群): gets one daily digest of the unit's notices."""

    __tablename__ = "unit_webhooks"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500), nullable=False)
    flavor: Mapped[str] = mapped_column(String(16), nullable=False, default="dingtalk")
    secret: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<UnitWebhook unit{self.unit_id} {self.flavor}>"
