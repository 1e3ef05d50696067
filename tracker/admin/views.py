"""Admin pages: escalation policy, users and roles, the admin audit log."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker.admin import operations as ops
from tracker.admin.models import AdminEvent
from tracker.auth.models import ROLE_LABELS, Role, User
from tracker.auth.operations import create_user
from tracker.errors import ServiceError
from tracker.extensions import db
from tracker.permissions import roles_required
from tracker.tasks.policy_store import load_policy
from tracker.units.models import Unit
from workflows import POLICY_FIELD_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")


class PlainForm(FlaskForm):
    """CSRF only; the fields are read from request.form and validated by the operation."""


@bp.route("/policy", methods=["GET", "POST"])
@roles_required("admin")
def policy():
    form = PlainForm()
    if request.method == "POST" and form.validate_on_submit():
        values = {k: request.form.get(k, "") for k in POLICY_FIELD_LABELS if k != "working_days"}
        values["working_days"] = "working_days" in request.form
        try:
            changed = ops.update_policy(current_user, values)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return render_template("admin/policy.html", form=form, policy=values, labels=POLICY_FIELD_LABELS), 422
        db.session.commit()
        flash(ngettext("督办策略已保存（修改 %(num)d 项）。", "督办策略已保存（修改 %(num)d 项）。", len(changed)), "success")
        return redirect(url_for("admin.policy"))
    current = load_policy().to_mapping()
    current["reminder_days"] = ",".join(str(d) for d in current["reminder_days"])
    return render_template("admin/policy.html", form=form, policy=current, labels=POLICY_FIELD_LABELS)


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users():
    form = PlainForm()
    if request.method == "POST" and form.validate_on_submit():
        f = request.form
        try:
            user = create_user(f.get("username", ""), f.get("password", ""), f.get("role", ""),
                               unit_code=f.get("unit_code") or None, display_name=f.get("display_name", ""),
                               email=f.get("email") or None, actor=current_user)
        except (ValueError, LookupError) as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("已创建用户 %(username)s。", username=user.username), "success")
        return redirect(url_for("admin.users"))
    rows = db.session.scalars(select(User).where(User.role != Role.system).options(selectinload(User.unit))
                              .order_by(User.role, User.username)).all()
    units = db.session.scalars(select(Unit).order_by(Unit.kind, Unit.code)).all()
    return render_template("admin/users.html", form=form, users=rows, units=units,
                           roles={k: v for k, v in ROLE_LABELS.items() if k != "system"})


@bp.route("/users/<int:user_id>", methods=["POST"])
@roles_required("admin")
def update_user(user_id: int):
    form = PlainForm()
    if form.validate_on_submit():
        f = request.form
        active = {"1": True, "0": False}.get(f.get("active", ""))
        try:
            ops.set_user_state(current_user, user_id, role=f.get("role") or None, unit_code=f.get("unit_code") or None,
                               active=active)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("用户已更新。"), "success")
    return redirect(url_for("admin.users"))


@bp.route("/audit")
@roles_required("admin")
def audit_log():
    rows = db.session.scalars(select(AdminEvent).options(selectinload(AdminEvent.actor))
                              .order_by(AdminEvent.id.desc()).limit(500)).all()
    return render_template("admin/audit.html", rows=rows)
