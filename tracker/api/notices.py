"""The caller's in-app inbox: list (unread first if asked) and mark read. Only one's own rows, ever."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from tracker.api import bp, serialize
from tracker.api.errors import ApiError
from tracker.api.openapi import boolean, integer, obj, operation, page_of, page_params, path_id, query
from tracker.api.plans import paginate
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.notices.models import Notification

INAPP = "inapp"


def _mine(user):
    return select(Notification).where(Notification.user_id == user.id, Notification.channel == INAPP)


INBOX = {"allOf": [page_of(serialize.NOTIFICATION), obj(["unread"], unread=integer(0))]}


@operation(bp, "GET", "/notifications", summary=_l("我的站内通知（新的在前）"), tag="notifications",
           params=[query("unread", boolean(), _l("只看未读")), *page_params()], response=INBOX)
def notifications(call):
    stmt = _mine(call.user)
    if call.query.get("unread"):
        stmt = stmt.where(Notification.read_at.is_(None))
    out = paginate(stmt.order_by(Notification.created_at.desc(), Notification.id.desc()), call, serialize.notification)
    out["unread"] = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == call.user.id, Notification.channel == INAPP, Notification.read_at.is_(None))) or 0
    return out


@operation(bp, "POST", "/notifications/{notification_id}/read", summary=_l("标记一条通知为已读"), tag="notifications",
           params=[path_id("notification_id")], response=serialize.NOTIFICATION)
def notification_read(call, notification_id: int):
    row = db.session.scalar(_mine(call.user).where(Notification.id == notification_id))
    if row is None:
        raise ApiError(404, _("找不到该通知。"))
    if row.read_at is None:
        row.read_at = utcnow()
        db.session.commit()
    return serialize.notification(row)


@operation(bp, "POST", "/notifications/read-all", summary=_l("全部标记为已读"), tag="notifications",
           response=obj(["marked"], marked=integer(0)))
def notifications_read_all(call):
    result = db.session.execute(update(Notification).where(
        Notification.user_id == call.user.id, Notification.channel == INAPP, Notification.read_at.is_(None))
        .values(read_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
    return {"marked": max(result.rowcount or 0, 0)}
