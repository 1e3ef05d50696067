"""Notice pages: the in-app inbox (with the unread count for the header), delivery preferences and
the dead-letter list where an admin re-queues notices that could not be delivered."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select, update

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.notices.forms import ButtonForm, PreferenceForm
from tracker.notices.models import NoticePreference, Notification
from tracker.permissions import roles_required

bp = Blueprint("notices", __name__, url_prefix="/notices")
PAGE_SIZE = 50
KIND_LABELS = {
    "reminder": _l("到期提醒"), "overdue": _l("逾期通知"), "escalation": _l("督办"), "interview": _l("约谈提示"),
    "weekly_digest": _l("每周简报"), "rollover": _l("年度任务"), "submit": _l("报送"), "verify": _l("办结"), "return": _l("退回"),
    "extension_request": _l("延期申请"), "extension_decision": _l("延期审批"), "slippage": _l("滑坡"),
}
STATUS_LABELS = {"pending": _l("待发送"), "sent": _l("已发送"), "failed": _l("失败待重试"), "dead": _l("已放弃")}
CHANNEL_LABELS = {"inapp": _l("站内"), "email": _l("邮件"), "webhook": _l("Webhook")}


def _unread_query(user_id: int):
    return select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.channel == "inapp", Notification.read_at.is_(None))


@bp.app_context_processor
def unread_notice_count():
    """``{{ unread_notice_count() }}`` in any template: the signed-in user's unread in-app notices."""

    def count() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return db.session.scalar(_unread_query(current_user.id)) or 0

    return {"unread_notice_count": count}


@bp.app_template_filter("notice_kind")
def notice_kind(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@bp.route("/")
@login_required
def inbox():
    only_unread = request.args.get("unread") == "1"
    page = max(request.args.get("page", 1, type=int), 1)
    stmt = select(Notification).where(Notification.user_id == current_user.id, Notification.channel == "inapp")
    if only_unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    notices = db.session.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                                 .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return render_template("notices/inbox.html", notices=notices, total=total, page=page, page_size=PAGE_SIZE,
                           only_unread=only_unread, unread=db.session.scalar(_unread_query(current_user.id)),
                           form=ButtonForm())


def _own(notice_id: int) -> Notification:
    notice = db.session.get(Notification, notice_id)
    if notice is None or notice.user_id != current_user.id or notice.channel != "inapp":
        abort(404)
    return notice


def _safe_target(link: str) -> str | None:
    """Only our own pages: a site path, or a link under this site's address."""
    if link.startswith("/") and not link.startswith("//"):
        return link
    from tracker.scheduler.config import base_url

    root = base_url()
    if link.startswith(root + "/"):
        return link[len(root):]
    if link.startswith(request.host_url):
        return "/" + link[len(request.host_url):]
    return None


@bp.route("/<int:notice_id>/open")
@login_required
def open_notice(notice_id: int):
    """Follow a notice's link, marking it read on the way."""
    notice = _own(notice_id)
    if notice.read_at is None:
        notice.read_at = utcnow()
        db.session.commit()
    return redirect(_safe_target(notice.link or "") or url_for("notices.inbox"))


@bp.route("/<int:notice_id>/read", methods=["POST"])
@login_required
def mark_read(notice_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    notice = _own(notice_id)
    if notice.read_at is None:
        notice.read_at = utcnow()
        db.session.commit()
    return redirect(request.referrer if request.referrer and _safe_target(request.referrer) else url_for("notices.inbox"))


@bp.route("/read-all", methods=["POST"])
@login_required
def mark_all_read():
    if not ButtonForm().validate_on_submit():
        abort(400)
    result = db.session.execute(update(Notification).where(
        Notification.user_id == current_user.id, Notification.channel == "inapp", Notification.read_at.is_(None))
        .values(read_at=utcnow()))
    db.session.commit()
    flash(_("已将 %(num)d 条通知标为已读。", num=result.rowcount), "success")
    return redirect(url_for("notices.inbox"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    pref = db.session.get(NoticePreference, current_user.id)
    form = PreferenceForm(obj=pref) if request.method == "GET" and pref else PreferenceForm()
    if request.method == "GET":
        if pref is None:
            form.email_enabled.data, form.digest_daily.data = True, True
        form.webhook_secret.data = ""
    if form.validate_on_submit():
        pref = pref or NoticePreference(user_id=current_user.id)
        pref.email_enabled, pref.digest_daily = bool(form.email_enabled.data), bool(form.digest_daily.data)
        pref.webhook_url = (form.webhook_url.data or "").strip()
        pref.webhook_flavor = form.webhook_flavor.data or "dingtalk"
        if form.clear_secret.data or pref.webhook_flavor == "wecom":
            pref.webhook_secret = ""
        elif form.webhook_secret.data:
            pref.webhook_secret = form.webhook_secret.data.strip()
        pref.updated_at = utcnow()
        db.session.add(pref)
        db.session.commit()
        flash(_("通知设置已保存。"), "success")
        return redirect(url_for("notices.preferences"))
    from tracker.scheduler.config import smtp_settings

    return render_template("notices/preferences.html", form=form, pref=pref, has_email=bool(current_user.email),
                           smtp_ready=smtp_settings() is not None), 200 if request.method == "GET" else 422


@bp.route("/dead")
@roles_required("admin")
def dead_letters():
    rows = db.session.scalars(select(Notification).where(Notification.status.in_(("dead", "failed")))
                              .order_by(Notification.status, Notification.created_at.desc()).limit(500)).all()
    return render_template("notices/dead.html", rows=rows, form=ButtonForm(), status_labels=STATUS_LABELS,
                           channel_labels=CHANNEL_LABELS)


@bp.route("/dead/retry", methods=["POST"])
@roles_required("admin")
def retry():
    from tracker.scheduler.dispatch import retry_dead

    if not ButtonForm().validate_on_submit():
        abort(400)
    ids = request.form.getlist("id", type=int)
    count = retry_dead(ids or None, utcnow())
    db.session.commit()
    flash(_("已重新排队 %(num)d 条通知，将在下一分钟内发送。", num=count), "success")
    return redirect(url_for("notices.dead_letters"))
