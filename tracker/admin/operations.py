"""Admin operations: every change writes an AdminEvent in the same transaction."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from tracker.admin.models import AdminEvent
from tracker.auth.models import Role, User
from tracker.clock import utcnow
from tracker.errors import Forbidden, Invalid
from tracker.extensions import db
from tracker.tasks.policy_store import load_policy, save_policy
from tracker.units.models import Unit
from workflows import PolicyError


def audit(actor: User | None, action: str, target: str = "", comment: str = "", data: dict | None = None) -> AdminEvent:
    row = AdminEvent(actor_id=actor.id if actor else None, action=action, target=target, comment=comment,
                     data=data or {}, created_at=utcnow())
    db.session.add(row)
    return row


def _require_admin(actor: User) -> None:
    if not actor.has_role("admin"):
        raise Forbidden(_("只有系统管理员可以执行此操作。"))


def update_policy(actor: User, values: dict) -> dict:
    _require_admin(actor)
    before = load_policy().to_mapping()
    try:
        after = save_policy(values, actor).to_mapping()
    except PolicyError as exc:
        raise Invalid(str(exc)) from None
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before.get(k) != after[k]}
    audit(actor, "policy_update", "policy", data=changed)
    db.session.flush()
    return changed


def set_user_state(actor: User, user_id: int, *, role: str | None = None, unit_code: str | None = None,
                   active: bool | None = None) -> User:
    _require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.system:
        raise Invalid(_("找不到该用户。"))
    if user.id == actor.id and (active is False or (role and role != "admin")):
        raise Invalid(_("不能停用自己的账号或取消自己的管理员角色。"))
    before = {"role": user.role.value, "unit": user.unit.code if user.unit else None, "active": user.active}
    if role is not None:
        if role not in ("admin", "leadership", "supervisor", "unit"):
            raise Invalid(_("未知角色“%(role)s”。", role=role))
        user.role = Role(role)
    if role == "unit" or (role is None and user.role == Role.unit and unit_code):
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code)) if unit_code else user.unit
        if unit is None:
            raise Invalid(_("责任单位经办人必须绑定一个单位。"))
        user.unit = unit
    elif role is not None:
        user.unit = None
    if active is not None:
        user.active = active
    after = {"role": user.role.value, "unit": user.unit.code if user.unit else None, "active": user.active}
    audit(actor, "user_update", f"user:{user.id}", data={"username": user.username, "from": before, "to": after})
    db.session.flush()
    return user
