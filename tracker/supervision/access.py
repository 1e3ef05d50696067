"""Who may see and do what in supervision — one place, used by views, CLI and operations.

Leadership instructs and acknowledges; supervisors open/hold/close interviews, add rectification
items and record accountability; admins read everything; a unit user sees its own file, the
interviews it is the subject of or owns an item of, and rectifies through the normal task pages.
Objects another unit may not see answer 404, so their existence is not revealed.
"""
from __future__ import annotations

from flask import abort
from sqlalchemy import exists, false, or_, select

from tracker.errors import Forbidden
from tracker.extensions import db
from tracker.permissions import OVERSEERS
from tracker.supervision.models import AccountabilityRecord, Interview, RectificationItem
from tracker.units.models import Unit

INSTRUCTORS = ("leadership",)
SUPERVISORS = ("supervisor",)
#: who may read the boards, flags and every file
READERS = OVERSEERS


def require(actor, roles: tuple[str, ...], refusal) -> None:
    """Refuse (Forbidden) unless the actor has one of the roles; ``refusal`` is the whole message, e.g.
    ``_l("只有督学可以发起约谈。")`` — lazy, so it is only translated when it is shown."""
    if actor is None or not actor.has_role(*roles):
        raise Forbidden(str(refusal))


def is_reader(user) -> bool:
    return bool(user and user.is_authenticated and user.has_role(*READERS))


def unit_user_unit(user) -> int | None:
    return user.unit_id if user and user.is_authenticated and user.has_role("unit") else None


def can_see_unit(user, unit_id: int) -> bool:
    return is_reader(user) or (unit_user_unit(user) is not None and unit_user_unit(user) == unit_id)


def interview_scope(stmt, user):
    """Restrict an Interview query to what the user may see (set-based)."""
    if is_reader(user):
        return stmt
    unit_id = unit_user_unit(user)
    if unit_id is None:
        return stmt.where(false())
    owns_item = exists().where(RectificationItem.interview_id == Interview.id, RectificationItem.unit_id == unit_id)
    return stmt.where(or_(Interview.unit_id == unit_id, owns_item))


def can_see_interview(user, interview: Interview) -> bool:
    if is_reader(user):
        return True
    unit_id = unit_user_unit(user)
    if unit_id is None:
        return False
    return interview.unit_id == unit_id or bool(db.session.scalar(
        select(exists().where(RectificationItem.interview_id == interview.id, RectificationItem.unit_id == unit_id))))


def interview_or_404(interview_id: int, user) -> Interview:
    interview = db.session.get(Interview, interview_id)
    if interview is None or not can_see_interview(user, interview):
        abort(404)
    return interview


def item_or_404(item_id: int, user) -> RectificationItem:
    item = db.session.get(RectificationItem, item_id)
    if item is None or not can_see_interview(user, item.interview):
        abort(404)
    return item


def record_or_404(record_id: int, user) -> AccountabilityRecord:
    record = db.session.get(AccountabilityRecord, record_id)
    if record is None:
        abort(404)
    seen = can_see_unit(user, record.unit_id) or (record.interview is not None and can_see_interview(user, record.interview))
    if not seen:
        abort(404)
    return record


def unit_or_404(code: str, user) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or not can_see_unit(user, unit.id):
        abort(404)
    return unit
