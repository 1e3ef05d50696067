"""The outbox dispatcher: send due e-mail and webhook rows, retry with backoff, dead-letter the rest.

One indexed SELECT (status, next_attempt_at) finds the due rows; they are grouped per recipient,
channel, target and batch, and each group goes out as ONE message (so a person gets one mail for
everything due now, and one per day in digest mode). Per group: lock the rows (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so even a second dispatcher could not send them twice), send, mark every row
of the group sent / failed (``next_attempt_at = now + retry_delay(attempts)``) / dead, commit.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from notifications.channels import DeliveryError, WebhookChannel
from notifications.dispatcher import STANDALONE_KINDS, Row, group_key, outcome, render_group
from tracker.auth.models import User
from tracker.extensions import db
from tracker.i18n import DEFAULT, LANGUAGES
from tracker.notices.models import NoticePreference, Notification, UnitWebhook
from tracker.scheduler import config
from tracker.scheduler.sweep import id_in

DUE_STATES = ("pending", "failed")


def _target(row) -> str:
    return str((row.data or {}).get("target") or "")


def _webhook_for(user_id: int, target: str):
    """(url, flavor, secret) for a webhook row, or None when nothing is configured any more."""
    if target == "leadership":
        return config.leadership_webhook()
    if target.startswith("unit:"):
        hook = db.session.get(UnitWebhook, int(target.split(":", 1)[1]))
        return (hook.url, hook.flavor, hook.secret) if hook else None
    pref = db.session.get(NoticePreference, user_id)
    return (pref.webhook_url, pref.webhook_flavor, pref.webhook_secret) if pref and pref.webhook_url else None


def _language(user, target: str) -> str:
    """A message to one person reads in that person's language; a group robot's, in the default one."""
    chosen = getattr(user, "locale", None) if user is not None and not target else None
    return chosen if chosen in LANGUAGES else DEFAULT


def dispatch(now: datetime, today: date, *, limit: int = 500) -> dict:
    n = Notification.__table__.c
    due = db.session.execute(
        select(n.id, n.user_id, n.channel, n.kind, n.batch, n.data)
        .where(n.status.in_(DUE_STATES), n.next_attempt_at <= now, n.channel.in_(("email", "webhook")))
        .order_by(n.next_attempt_at, n.id).limit(limit)).all()
    db.session.rollback()  # end the read transaction: each group below is its own transaction
    groups: dict[tuple, list[int]] = defaultdict(list)
    for r in due:
        alone = r.id if r.kind in STANDALONE_KINDS else 0
        groups[(r.user_id, r.channel, _target(r), r.batch or "", alone)].append(r.id)
    stats = {"due": len(due), "messages": 0, "sent": 0, "failed": 0, "dead": 0}
    if not groups:
        return stats
    smtp = config.smtp_settings()
    max_attempts, base = config.max_attempts(), config.retry_base()
    inbox = config.base_url() + "/notices"
    for (user_id, channel, target, _batch, _alone), ids in groups.items():
        rows = list(db.session.scalars(
            select(Notification).where(id_in(Notification.id, ids), Notification.status.in_(DUE_STATES),
                                       Notification.next_attempt_at <= now)
            .order_by(Notification.id).with_for_update(skip_locked=True)))
        if not rows:
            db.session.rollback()
            continue
        user = db.session.get(User, user_id)
        views = [Row(r.id, r.kind, r.key, r.subject, r.body, r.link, r.data or {}, r.batch) for r in rows]
        try:
            language = _language(user, target)  # the message is written (and sent) in it; errors stay in the default
            with force_locale(language):
                rendered = render_group(views, today, user.display_name if user and not target else "", inbox)
            if channel == "email":
                if smtp is None:
                    raise DeliveryError(True, _("未配置邮件服务器（TRACKER_SMTP_HOST）"))
                if not (user and user.email):
                    raise DeliveryError(False, _("收件人没有登记邮箱"))
                with force_locale(language):
                    smtp.channel().send(rendered.to_message(user.email, group_key(views)))
            else:
                hook = _webhook_for(user_id, target)
                if not hook:
                    raise DeliveryError(False, _("未配置 Webhook 地址"))
                url, flavor, secret = hook
                with force_locale(language):
                    WebhookChannel(url, flavor=flavor, secret=secret or None).send(rendered.to_message(url, group_key(views)))
        except Exception as exc:  # noqa: BLE001 — every failure is recorded on the rows, none stops the batch
            attempt = max(r.attempts for r in rows) + 1
            result = outcome(exc, attempt, max_attempts, base)
            for r in rows:
                r.attempts, r.status, r.last_error = attempt, result.status, result.error[:2000]
                r.next_attempt_at = now + timedelta(seconds=result.next_in) if result.next_in is not None else None
            stats[result.status] += len(rows)
        else:
            for r in rows:
                r.attempts, r.status, r.sent_at, r.last_error = r.attempts + 1, "sent", now, ""
            stats["sent"] += len(rows)
            stats["messages"] += 1
        db.session.commit()
    return stats


def retry_dead(ids: list[int] | None, now: datetime) -> int:
    """Admin retry: dead (or failed) rows go back to pending, due now, with a fresh attempt count."""
    stmt = select(Notification).where(Notification.status.in_(("dead", "failed")))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    rows = list(db.session.scalars(stmt))
    for r in rows:
        r.status, r.attempts, r.next_attempt_at = "pending", 0, now
    db.session.flush()
    return len(rows)
