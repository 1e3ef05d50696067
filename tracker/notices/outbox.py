"""Queue notices in the caller's transaction; duplicates (same user, channel, key) are skipped, not raised."""
from __future__ import annotations

from sqlalchemy import select

from tracker.auth.models import User
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.notices.models import Notification


def users_of_unit(unit_id: int) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.unit_id == unit_id, User.active.is_(True))))


def users_with_role(*roles: str) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.role.in_(roles), User.active.is_(True))))


def enqueue(user_ids: list[int], *, kind: str, key: str, subject: str, body: str = "", link: str = "",
            task_id: int | None = None, data: dict | None = None, channel: str = "inapp") -> int:
    """Insert one notice per user unless that user already has this key on this channel; returns rows added."""
    if not user_ids:
        return 0
    have = set(db.session.scalars(select(Notification.user_id).where(
        Notification.user_id.in_(user_ids), Notification.channel == channel, Notification.key == key)))
    now = utcnow()
    rows = [Notification(user_id=uid, channel=channel, kind=kind, key=key, subject=subject, body=body, link=link,
                         task_id=task_id, data=data or {}, created_at=now,
                         status="sent" if channel == "inapp" else "pending",
                         sent_at=now if channel == "inapp" else None, next_attempt_at=None if channel == "inapp" else now)
            for uid in dict.fromkeys(user_ids) if uid not in have]
    db.session.add_all(rows)
    return len(rows)
