"""Template filters: Chinese dates, state labels and colours."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from workflows import ladder as ladder_machine
from workflows import lifecycle, policy


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cn_date(value) -> str:
    """A date as the reader writes it: 2025年12月31日 in Chinese, 31 Dec 2025 in English;
    times are shown in the bureau's time zone."""
    if value is None or value == "":
        return ""
    from tracker.i18n import current_language

    english = current_language() == "en"
    if isinstance(value, datetime):
        from tracker.clock import LOCAL_TZ

        local = value.replace(tzinfo=value.tzinfo or timezone.utc).astimezone(LOCAL_TZ)
        return (f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M}" if english
                else f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}")  # i18n: data (the Chinese date form)
    if isinstance(value, date):
        if english:
            return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
        return f"{value.year}年{value.month}月{value.day}日"  # i18n: data (the Chinese date form)
    return str(value)


ACTION_LABELS = {
    "progress": _l("报送进展"), "evidence": _l("上传佐证材料"), "extension_request": _l("申请延期"),
    "extension_approved": _l("同意延期"), "extension_rejected": _l("驳回延期"), "deadline": _l("修改完成时限"),
    # written on task histories by the supervision package
    "instruction": _l("领导批示"), "reviewed": _l("领导小组已阅"), "rectification": _l("下达整改任务"),
}


def any_event_label(event: str) -> str:
    return str(lifecycle.EVENT_LABELS.get(event) or ladder_machine.LADDER_EVENT_LABELS.get(event)
               or ACTION_LABELS.get(event) or event)


def rag_signals(task) -> tuple[bool, bool]:
    """(behind 序时进度, stale) for an open task."""
    from tracker.clock import today
    from tracker.tasks.policy_store import load_policy

    pol, day = load_policy(), today()
    if task.status not in ("in_progress", "returned"):
        return False, False
    last = task.last_progress_at.date() if task.last_progress_at else None
    return (policy.is_behind(task.progress_percent, task.start_date, task.deadline, day, pol),
            policy.is_stale(last, task.start_date, day, pol))


def rag_note(task) -> str:
    """The words behind a yellow badge, so colour is never the only signal."""
    if task.status == "completed":
        return ""
    behind, stale = rag_signals(task)
    if not (behind or stale):  # most rows of a list: no words to look up
        return ""
    return _("、").join(w for w, on in ((_("进度滞后"), behind), (_("长期未更新"), stale)) if on)


def rag_of(task) -> str:
    """Colour from the ladder, plus 进度滞后 (behind 序时进度) and 长期未更新 (stale) as yellow."""
    behind, stale = rag_signals(task)
    return policy.rag(task.ladder, behind=behind, stale=stale, completed=task.status == "completed")


def listed_units(measure) -> list[str]:
    from tracker.plans.operations import _listed_names

    return _listed_names(measure)


def init_app(app: Flask) -> None:
    app.add_template_filter(cn_date, "cn_date")
    app.add_template_filter(lambda s: lifecycle.STATE_LABELS.get(s, s), "status_label")
    app.add_template_filter(lambda s: ladder_machine.LADDER_LABELS.get(s, s), "ladder_label")
    app.add_template_filter(rag_of, "rag")
    app.add_template_filter(rag_note, "rag_note")
    app.add_template_filter(lambda ladder: policy.rag(ladder, False, False, False), "ladder_rag")
    app.add_template_filter(lambda e: lifecycle.EVENT_LABELS.get(e, e), "event_label")
    app.add_template_filter(lambda e: ladder_machine.LADDER_EVENT_LABELS.get(e, e), "ladder_event_label")
    app.add_template_filter(any_event_label, "any_event_label")
    app.add_template_filter(listed_units, "listed_units")
