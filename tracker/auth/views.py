"""Sign-in and sign-out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from tracker import security
from tracker.auth.models import User
from tracker.extensions import db, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str):
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码")), Length(max=200)])
    remember = BooleanField(_l("记住我"))


def _safe_next(target: str | None) -> str | None:
    """Only local paths: an open redirect after login would be a phishing aid."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("tasks.home"))
    form = LoginForm()
    if form.validate_on_submit():
        username, address = form.username.data.strip(), security.client_address()
        if security.throttled(username, address):
            flash(_("登录失败次数过多，请 15 分钟后再试。"), "danger")
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None or not user.active or not user.check_password(form.password.data):
            security.record_failure(username, address)
            flash(_("用户名或密码错误。"), "danger")
            return render_template("auth/login.html", form=form), 401
        security.clear_failures(username)
        db.session.commit()
        login_user(user, remember=form.remember.data)
        flash(_("欢迎，%(name)s。", name=user.display_name), "success")
        return redirect(_safe_next(request.args.get("next")) or url_for("tasks.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Signs out; the account's language stays with the browser (the ``lang`` cookie) for the sign-in page."""
    from tracker.i18n import COOKIE, LANGUAGES

    lang = current_user.locale
    message = _("已退出登录。")  # in the account's language, like the page that follows
    logout_user()
    flash(message, "info")
    response = redirect(url_for("auth.login"))
    if lang in LANGUAGES and request.cookies.get(COOKIE) != lang:
        response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response
