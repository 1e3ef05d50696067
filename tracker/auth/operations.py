"""User operations shared by CLI, views and the demo loader."""
from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select

from tracker.auth.models import Role, User
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.units.models import Unit

MIN_PASSWORD = 8


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(_("密码至少需要 %(num)d 个字符", num=MIN_PASSWORD))
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise ValueError(_("密码须同时包含字母和数字"))


def create_user(username: str, password: str, role: str, *, unit_code: str | None = None,
                display_name: str = "", email: str | None = None, actor: User | None = None) -> User:
    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", username):
        raise ValueError(_("用户名只能包含字母、数字、_ . -，长度 2–64"))
    if db.session.scalar(select(User).where(User.username == username)):
        raise ValueError(_("用户名“%(username)s”已存在", username=username))
    check_password_rules(password)
    unit = None
    if role not in ("admin", "leadership", "supervisor", "unit"):
        raise ValueError(_("未知角色“%(role)s”", role=role))
    if role == "unit":
        if not unit_code:
            raise ValueError(_("责任单位经办人必须指定 --unit 单位代码"))
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise LookupError(_("找不到单位代码“%(code)s”（见 flask --app wsgi units list）", code=unit_code))
    elif unit_code:
        raise ValueError(_("只有责任单位经办人（role=unit）可以绑定单位"))
    user = User(username=username, role=Role(role), unit=unit, display_name=display_name or username,
                email=email, created_at=utcnow())
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    from tracker.admin.operations import audit

    audit(actor, "user_create", f"user:{user.id}", data={"username": username, "role": role, "unit": unit_code})
    return user
