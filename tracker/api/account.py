"""The signed-in user's own account pages: personal API tokens and password change.

Plain HTML forms with CSRF (unlike the API they sit beside). A new token's secret is shown once, on
the page the POST answers with (never flashed into the session, never stored), marked no-store.
"""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from tracker import security
from tracker.api import auth as tokens
from tracker.auth.operations import check_password_rules
from tracker.errors import ServiceError
from tracker.extensions import db

bp = Blueprint("account", __name__, url_prefix="/account")


class TokenForm(FlaskForm):
    name = StringField(_l("令牌名称"), validators=[DataRequired(_l("请填写令牌名称")),
                                                  Length(max=100, message=_l("令牌名称不能超过 100 个字"))])
    days = SelectField(_l("有效期"), coerce=int, choices=[SelectChoice(k, v) for k, v in tokens.LIFETIMES.items()], default=90)


class RevokeForm(FlaskForm):
    """CSRF only."""


class PasswordForm(FlaskForm):
    old_password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码")), Length(max=200)])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码")),
                                                         Length(max=200, message=_l("密码太长"))])
    confirm = PasswordField(_l("再次输入新密码"), validators=[DataRequired(_l("请再次输入新密码")),
                                                       EqualTo("new_password", _l("两次输入的新密码不一致"))])


def _page(form: TokenForm, secret: str | None = None, token=None, status: int = 200):
    response = make_response(render_template("api/tokens.html", form=form, tokens=tokens.tokens_of(current_user),
                                              revoke_form=RevokeForm(), secret=secret, created=token,
                                              lifetimes=tokens.LIFETIMES, now=tokens.utcnow()), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens_page():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            row, secret = tokens.create_token(current_user, form.name.data, form.days.data)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return _page(form, status=exc.status)
        db.session.commit()
        return _page(TokenForm(formdata=None), secret=secret, token=row, status=201)
    if form.errors:
        for errors in form.errors.values():
            for e in errors:
                flash(str(e), "danger")
        return _page(form, status=400 if "csrf_token" in form.errors else 422)
    return _page(form)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("表单已过期，请重试。"), "danger")
        return redirect(url_for("account.tokens_page"))
    try:
        row = tokens.revoke_token(current_user, token_id)
    except ServiceError:
        db.session.rollback()
        return render_template("error.html", code=404, message=_("找不到该令牌。")), 404
    db.session.commit()
    flash(_("已撤销令牌“%(name)s”（%(prefix)s…），使用它的程序将无法再访问。", name=row.name, prefix=row.prefix), "success")
    return redirect(url_for("account.tokens_page"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        user, address = current_user._get_current_object(), security.client_address()
        if security.throttled(user.username, address):
            flash(_("密码错误次数过多，请 15 分钟后再试。"), "danger")
            return render_template("api/password.html", form=form), 429
        if not user.check_password(form.old_password.data):
            security.record_failure(user.username, address)
            form.old_password.errors.append(_("当前密码不正确"))
            return render_template("api/password.html", form=form), 422
        new = form.new_password.data
        try:
            check_password_rules(new)
            if new == form.old_password.data:
                raise ValueError(_("新密码不能与当前密码相同"))
        except ValueError as exc:
            form.new_password.errors.append(str(exc))
            return render_template("api/password.html", form=form), 422
        from tracker.admin.operations import audit

        user.set_password(new)
        audit(user, "password_change", f"user:{user.id}", data={"username": user.username})
        db.session.commit()
        flash(_("密码已修改。"), "success")
        return redirect(url_for("account.password"))
    if form.errors:
        status = 400 if "csrf_token" in form.errors else 422
    return render_template("api/password.html", form=form), status
