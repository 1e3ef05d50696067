"""Personal API tokens: create (the secret is shown once), revoke, and authenticate a Bearer header.

A token is ``ydb_`` + 43 url-safe characters (32 random bytes). Only its sha256 is stored, looked up
through a unique index; the first characters are kept to recognise it in the list. A token acts with
exactly its user's role and unit, so every permission rule of the pages applies unchanged. The API
never looks at the session cookie: a request without a valid token is 401 even when signed in.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from tracker.api.errors import ApiError
from tracker.api.models import ApiToken
from tracker.auth.models import Role, User
from tracker.clock import utcnow
from tracker.errors import Forbidden, Invalid
from tracker.extensions import db

TOKEN_PREFIX = "ydb_"
PREFIX_SHOWN = 12
#: choices offered on the page (days; 0 = never expires)
LIFETIMES = {30: _l("30 天"), 90: _l("90 天"), 365: _l("一年"), 0: _l("永不过期")}
MAX_TOKENS_PER_USER = 20
#: last_used_at is written at most this often per token
TOUCH_EVERY = timedelta(minutes=1)
_TOKEN_RE = re.compile(r"ydb_[A-Za-z0-9_-]{43}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str, days: int) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the secret (shown once, never stored). Flushes."""
    from tracker.admin.operations import audit

    if user.role == Role.system or not user.active:
        raise Forbidden(_("此账号不能创建访问令牌。"))
    name = " ".join((name or "").split())
    if not name:
        raise Invalid(_("请填写令牌名称（如“数据对接脚本”）。"))
    if len(name) > 100:
        raise Invalid(_("令牌名称不能超过 100 个字。"))
    if days not in LIFETIMES:
        raise Invalid(_("有效期只能选择 30 天、90 天、一年或永不过期。"))
    now = utcnow()
    active = db.session.scalar(select(db.func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    if active >= MAX_TOKENS_PER_USER:
        raise Invalid(_("每个账号最多保留 %(num)d 个有效令牌，请先撤销不用的令牌。", num=MAX_TOKENS_PER_USER))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=secret[:PREFIX_SHOWN], token_hash=hash_token(secret),
                   created_at=now, expires_at=now + timedelta(days=days) if days else None)
    db.session.add(row)
    db.session.flush()
    audit(user, "token_create", f"token:{row.id}",
          data={"user": user.username, "name": name, "prefix": row.prefix,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None})
    db.session.flush()
    return row, secret


def revoke_token(actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (an admin may revoke anyone's). Flushes."""
    from tracker.admin.operations import audit

    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and not actor.has_role("admin")):
        raise Invalid(_("找不到该令牌。"))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(actor, "token_revoke", f"token:{row.id}",
              data={"user": row.user.username, "name": row.name, "prefix": row.prefix})
        db.session.flush()
    return row


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(),
                                             ApiToken.id.desc())))


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def authenticate() -> User:
    """The user behind the request's Bearer token, or ApiError 401. Never reads the session."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if not header:
        raise _unauthorized(_("缺少访问令牌：请在 Authorization 头中提供“Bearer <令牌>”。API 不接受登录会话。"))
    if scheme.lower() != "bearer" or not _TOKEN_RE.fullmatch(value.strip()):
        raise _unauthorized(_("访问令牌格式不正确：应为“Authorization: Bearer ydb_…”。"))
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(value.strip())))
    now = utcnow()
    if row is None:
        raise _unauthorized(_("访问令牌无效。"))
    if row.revoked_at is not None:
        raise _unauthorized(_("访问令牌已撤销。"))
    if row.expires_at is not None and row.expires_at <= now:
        raise _unauthorized(_("访问令牌已过期。"))
    user = row.user
    if user is None or not user.active or user.role == Role.system:
        raise _unauthorized(_("此令牌所属账号已停用。"))
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        # one small UPDATE at most once a minute per token, committed on its own before any work
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.session.commit()
    g.api_token_id = row.id
    return user


def expired(row: ApiToken, now: datetime | None = None) -> bool:
    return row.expires_at is not None and row.expires_at <= (now or utcnow())
