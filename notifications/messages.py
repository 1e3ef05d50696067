"""Chinese notification texts (pure functions, no Flask/SQLAlchemy).

Each builder returns a :class:`Rendered` (subject, text, html, link, items);
``Rendered.to_message(recipient, key)`` turns it into a
:class:`notifications.channels.Message` for any channel.

Rules kept by every builder:
* all user-supplied text is HTML-escaped in ``html`` (``<script>`` stays text);
* the task / page link is in both ``text`` and ``html`` (in ``html`` as an
  ``<a href>`` only for http(s) or site-relative links);
* dates are written the Chinese way: ``2026年3月1日`` (:func:`format_date_cn`).

Task data comes in as a :class:`TaskRef` or any mapping with the same keys
(``title`` or ``task_title``, ``link``, ``measure_no``, ``measure_title``,
``unit``, ``deadline``).
"""

from __future__ import annotations

import datetime as _dt
import html as _html
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from workflows.i18n import N_, _, pgettext

from .channels import Message

__all__ = [
    "SYSTEM_NAME",
    "TaskRef",
    "Rendered",
    "format_date_cn",
    "footer",
    "to_date",
    "reminder",
    "overdue_notice",
    "escalation",
    "interview_flag",
    "task_returned",
    "task_verified",
    "extension_decision",
    "daily_digest",
    "group_by_county_department",
    "weekly_leadership_digest",
]

# Source texts; translated where they are used (the reader's language is known only then).
SYSTEM_NAME = N_("优质均衡督办系统")
FOOTER = N_("本消息由优质均衡督办系统自动发送，请勿直接回复。")
NO_COUNTY = N_("（未填写县区）")
NO_DEPARTMENT = N_("（未填写部门）")
_MONTHS = (N_("1月"), N_("2月"), N_("3月"), N_("4月"), N_("5月"), N_("6月"),
           N_("7月"), N_("8月"), N_("9月"), N_("10月"), N_("11月"), N_("12月"))

DateLike = Union[_dt.date, _dt.datetime, str, None]


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def to_date(value: DateLike) -> Optional[_dt.date]:
    """date / datetime / ISO ``YYYY-MM-DD`` string (or None) -> date (or None)."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        return _dt.date.fromisoformat(value.strip()[:10])
    raise TypeError(f"not a date: {value!r}")


def format_date_cn(value: DateLike, *, empty: Optional[str] = None) -> str:
    """``2026-03-01`` -> ``2026年3月1日`` (no zero padding; ``1 Mar 2026`` in English);
    ``empty`` (default 未设定) for None."""
    d = to_date(value)
    if d is None:
        return _("未设定") if empty is None else empty
    return _("%(year)d年%(month)s%(day)d日", year=d.year, month=_(_MONTHS[d.month - 1]), day=d.day)


def footer() -> str:
    return _(FOOTER)


def _days(n: int) -> str:
    """``3天`` — "3 days", "1 day" in English."""
    return _("1天") if n == 1 else _("%(num)d天", num=n)


def _tasks(n: int) -> str:
    """``3项任务`` — "3 tasks", "1 task" in English."""
    return _("1项任务") if n == 1 else _("%(num)d项任务", num=n)


def _pair(label: Any, value: Any) -> str:
    """``标签：值``"""
    return _("%(label)s：%(value)s", label=label, value=value)


def _paren(text: Any) -> str:
    """``（说明）``"""
    return _("（%(text)s）", text=text)


def _e(value: Any) -> str:
    return _html.escape("" if value is None else str(value), quote=True)


def _e_multiline(value: Any) -> str:
    return "<br>".join(_e(line) for line in str(value or "").splitlines())


def _safe_href(link: Optional[str]) -> Optional[str]:
    if not link:
        return None
    low = link.strip().lower()
    if low.startswith(("http://", "https://")) or (low.startswith("/") and not low.startswith("//")):
        return link.strip()
    return None


def _link_html(link: Optional[str], label: str) -> str:
    href = _safe_href(link)
    if href:
        return f'<a href="{_e(href)}">{_e(label)}</a>'
    return _e(label)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class TaskRef:
    """What the messages need to know about a task."""

    title: str
    link: str = ""
    measure_no: str = ""
    measure_title: str = ""
    unit: str = ""  # 责任单位
    deadline: Optional[_dt.date] = None

    @property
    def measure_label(self) -> str:
        return " ".join(p for p in (str(self.measure_no or "").strip(), str(self.measure_title or "").strip()) if p)

    @classmethod
    def coerce(cls, task: Union["TaskRef", Mapping[str, Any]]) -> "TaskRef":
        if isinstance(task, TaskRef):
            return task
        if isinstance(task, Mapping):
            return cls(
                title=str(task.get("title") or task.get("task_title") or ""),
                link=str(task.get("link") or ""),
                measure_no=str(task.get("measure_no") or ""),
                measure_title=str(task.get("measure_title") or ""),
                unit=str(task.get("unit") or task.get("department") or ""),
                deadline=to_date(task.get("deadline")),
            )
        raise TypeError(f"expected TaskRef or mapping, got {type(task).__name__}")


@dataclass(frozen=True)
class Rendered:
    """Subject and bodies of one notification."""

    subject: str
    text: str
    html: str
    link: Optional[str] = None
    items: list = field(default_factory=list)

    def to_message(self, recipient: str, idempotency_key: str) -> Message:
        return Message(
            recipient=recipient,
            subject=self.subject,
            text=self.text,
            html=self.html,
            link=self.link,
            idempotency_key=idempotency_key,
            items=[dict(i) for i in self.items],
        )


def _html_page(title: str, blocks: Iterable[str], link: Optional[str], link_label: Optional[str] = None) -> str:
    """Minimal e-mail friendly HTML page.  ``blocks`` are already-escaped HTML."""
    link_label = link_label or _("查看任务")
    lang = _("zh-CN")  # the language tag of the text, from the catalogue
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(lang)}"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title></head>",
        '<body style="font-family:\'Microsoft YaHei\',\'PingFang SC\',sans-serif;font-size:14px;color:#222;">',
        f'<h2 style="font-size:18px;">{_e(title)}</h2>',
    ]
    parts.extend(blocks)
    if link:
        parts.append(f"<p>{_pair(_link_html(link, link_label), _e(link))}</p>")
    parts.append(f'<p style="color:#888;font-size:12px;">{_e(footer())}</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _task_fields(task: TaskRef) -> list:
    """(label, value) pairs describing a task."""
    rows = [(pgettext("field", "任务"), task.title)]
    if task.measure_label:
        rows.append((_("所属措施"), task.measure_label))
    if task.unit:
        rows.append((_("责任单位"), task.unit))
    rows.append((_("截止日期"), format_date_cn(task.deadline)))
    return rows


def _compose(
    subject: str,
    lead: str,
    fields: Sequence[tuple],
    link: Optional[str],
    *,
    closing: str = "",
    link_label: Optional[str] = None,
) -> Rendered:
    link_label = link_label or _("查看任务")
    text_lines = [lead, ""]
    text_lines += [_pair(label, value) for label, value in fields]
    if closing:
        text_lines += ["", closing]
    if link:
        text_lines += ["", _pair(link_label, link)]
    text_lines += ["", f"——{footer()}"]

    rows = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0;white-space:nowrap;vertical-align:top;">{_e(label)}</th>'
        f"<td>{_e_multiline(value)}</td></tr>"
        for label, value in fields
    )
    blocks = [f"<p>{_e_multiline(lead)}</p>", f"<table>{rows}</table>"]
    if closing:
        blocks.append(f"<p>{_e_multiline(closing)}</p>")
    return Rendered(
        subject=subject,
        text="\n".join(text_lines),
        html=_html_page(subject, blocks, link, link_label),
        link=link or None,
    )


def _header_row(*labels: str) -> str:
    return "<tr>" + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr>"


def _q(title: str) -> str:
    return f"“{title}”"


# --------------------------------------------------------------------------
# Single-task notices
# --------------------------------------------------------------------------


def reminder(task: Union[TaskRef, Mapping], days_left: int) -> Rendered:
    """Deadline reminder sent ``days_left`` days before the deadline (0 = today)."""
    t = TaskRef.coerce(task)
    days_left = int(days_left)
    if days_left < 0:
        raise ValueError("days_left < 0: use overdue_notice()")
    when = _("今天截止") if days_left == 0 else _("距截止还有%(days)s", days=_days(days_left))
    subject = _("【到期提醒】任务%(task)s%(when)s", task=_q(t.title), when=when)
    lead = _("您负责的任务%(task)s将于%(deadline)s截止（%(when)s），请抓紧推进并及时在系统中提交完成情况及佐证材料。",
             task=_q(t.title), deadline=format_date_cn(t.deadline), when=when)
    return _compose(subject, lead, _task_fields(t), t.link)


def overdue_notice(task: Union[TaskRef, Mapping], days_overdue: int) -> Rendered:
    """The task passed its deadline ``days_overdue`` days ago and is not done."""
    t = TaskRef.coerce(task)
    n = max(int(days_overdue), 0)
    subject = _("【逾期通知】任务%(task)s已逾期%(days)s", task=_q(t.title), days=_days(n))
    lead = _("您负责的任务%(task)s已于%(deadline)s到期，目前已逾期%(days)s且尚未完成。"
             "请尽快办理并提交完成情况；如确需延期，请在系统中提出延期申请。",
             task=_q(t.title), deadline=format_date_cn(t.deadline), days=_days(n))
    return _compose(subject, lead, _task_fields(t) + [(_("逾期天数"), _days(n))], t.link)


def escalation(
    task: Union[TaskRef, Mapping],
    days_overdue: int,
    ladder_label: str = "",
    note: str = "",
) -> Rendered:
    """督办 notice to leadership: an overdue task escalated one step up the ladder."""
    t = TaskRef.coerce(task)
    n = max(int(days_overdue), 0)
    unit = t.unit or _("责任单位")
    level = _paren(ladder_label) if ladder_label else ""
    subject = _("【督办】%(unit)s任务%(task)s逾期%(days)s%(level)s", unit=unit, task=_q(t.title), days=_days(n),
                level=level)
    lead = _("%(unit)s承担的任务%(task)s已逾期%(days)s仍未完成，现提请督办%(level)s，请予以关注并督促落实。",
             unit=unit, task=_q(t.title), days=_days(n), level=level)
    fields = _task_fields(t) + [(_("逾期天数"), _days(n))]
    if ladder_label:
        fields.append((_("督办等级"), ladder_label))
    if note:
        fields.append((_("说明"), note))
    return _compose(subject, lead, fields, t.link)


def interview_flag(
    task: Union[TaskRef, Mapping],
    days_overdue: int,
    reason: str = "",
) -> Rendered:
    """约谈 flag to supervisors: the unit reached the interview threshold."""
    t = TaskRef.coerce(task)
    n = max(int(days_overdue), 0)
    unit = t.unit or _("责任单位")
    subject = _("【约谈提示】%(unit)s任务%(task)s逾期%(days)s，已达约谈条件", unit=unit, task=_q(t.title), days=_days(n))
    lead = _("%(unit)s承担的任务%(task)s已逾期%(days)s，经督办仍未完成，已达到约谈条件，请按程序安排约谈。",
             unit=unit, task=_q(t.title), days=_days(n))
    fields = _task_fields(t) + [(_("逾期天数"), _days(n))]
    if reason:
        fields.append((_("约谈事由"), reason))
    return _compose(subject, lead, fields, t.link)


def task_returned(
    task: Union[TaskRef, Mapping],
    reason: str,
    returned_by: str = "",
) -> Rendered:
    """The submitted completion was returned (退回) for rework."""
    t = TaskRef.coerce(task)
    subject = _("【任务退回】任务%(task)s已被退回，请修改后重新提交", task=_q(t.title))
    lead = _("您提交的任务%(task)s完成情况未通过审核，已被退回。请根据退回意见修改后重新提交。", task=_q(t.title))
    fields = _task_fields(t) + [(_("退回意见"), reason or _("（无）"))]
    if returned_by:
        fields.append((_("退回人"), returned_by))
    return _compose(subject, lead, fields, t.link)


def task_verified(
    task: Union[TaskRef, Mapping],
    verified_by: str = "",
    comment: str = "",
    verified_on: DateLike = None,
) -> Rendered:
    """The task's completion was verified (核验通过)."""
    t = TaskRef.coerce(task)
    subject = _("【核验通过】任务%(task)s已核验通过", task=_q(t.title))
    lead = _("您提交的任务%(task)s完成情况已核验通过，感谢您的工作。", task=_q(t.title))
    fields = _task_fields(t)
    if verified_on:
        fields.append((_("核验日期"), format_date_cn(verified_on)))
    if verified_by:
        fields.append((_("核验人"), verified_by))
    if comment:
        fields.append((_("核验意见"), comment))
    return _compose(subject, lead, fields, t.link)


def extension_decision(
    task: Union[TaskRef, Mapping],
    approved: bool,
    new_deadline: DateLike = None,
    comment: str = "",
    decided_by: str = "",
) -> Rendered:
    """Answer to an extension (延期) request.  ``task.deadline`` is the
    deadline before the decision; ``new_deadline`` the granted one."""
    t = TaskRef.coerce(task)
    if approved:
        if to_date(new_deadline) is None:
            raise ValueError("an approved extension needs new_deadline")
        new = format_date_cn(new_deadline)
        subject = _("【延期已批准】任务%(task)s截止日期调整为%(new)s", task=_q(t.title), new=new)
        lead = _("您为任务%(task)s提交的延期申请已获批准，截止日期由%(old)s调整为%(new)s。",
                 task=_q(t.title), old=format_date_cn(t.deadline), new=new)
        fields = _task_fields(t) + [(_("新截止日期"), new)]
    else:
        subject = _("【延期未批准】任务%(task)s仍按原截止日期%(old)s完成", task=_q(t.title),
                    old=format_date_cn(t.deadline))
        lead = _("您为任务%(task)s提交的延期申请未获批准，请仍按原截止日期%(old)s完成。",
                 task=_q(t.title), old=format_date_cn(t.deadline))
        fields = _task_fields(t)
    if comment:
        fields.append((_("审批意见"), comment))
    if decided_by:
        fields.append((_("审批人"), decided_by))
    return _compose(subject, lead, fields, t.link)


# --------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------


def _item_status(item: Mapping) -> str:
    overdue = _int(item.get("days_overdue"), 0)
    if overdue > 0:
        return _("已逾期%(days)s", days=_days(overdue))
    if item.get("days_left") is not None:
        left = _int(item.get("days_left"), 0)
        return _("今天截止") if left == 0 else _("还剩%(days)s", days=_days(left))
    return str(item.get("status") or "")


def _normalise_item(item: Mapping) -> dict:
    """JSON-able copy of a digest line (dates as ISO strings)."""
    out = {}
    for key, value in item.items():
        if isinstance(value, (_dt.date, _dt.datetime)):
            value = to_date(value).isoformat()
        out[str(key)] = value
    if "task_title" not in out and "title" in out:
        out["task_title"] = out["title"]
    return out


def _item_title(item: Mapping) -> str:
    return str(item.get("task_title") or item.get("title") or "")


def daily_digest(
    items: Sequence[Mapping],
    day: DateLike,
    recipient_name: str = "",
    link: Optional[str] = None,
) -> Rendered:
    """Per-recipient daily digest (每日待办汇总).

    ``items``: dicts with ``task_title`` (or ``title``), optional ``measure``
    (label), ``unit``, ``deadline``, ``days_left`` / ``days_overdue`` (or a
    free ``status`` text), ``note``, ``link``.  Overdue lines come first (most
    overdue first), then by deadline; ``link`` is the recipient's task list.
    """
    if not items:
        raise ValueError("a digest needs at least one item")

    def sort_key(pair):
        idx, it = pair
        overdue = _int(it.get("days_overdue"), 0)
        d = to_date(it.get("deadline")) or _dt.date.max
        return (0 if overdue > 0 else 1, -overdue, d, idx)

    ordered = [it for _, it in sorted(enumerate(items), key=sort_key)]
    n_overdue = sum(1 for it in ordered if _int(it.get("days_overdue"), 0) > 0)
    day_cn = format_date_cn(day)
    subject = _("【每日待办】%(day)s：共%(tasks)s需关注", day=day_cn, tasks=_tasks(len(ordered)))
    if n_overdue:
        subject += _("（其中逾期%(num)d项）", num=n_overdue)
    greeting = _("%(name)s，您好：", name=recipient_name) if recipient_name else _("您好：")
    if n_overdue:
        lead = _("截至%(day)s，您有%(tasks)s需要关注，其中%(num)d项已逾期：", day=day_cn,
                 tasks=_tasks(len(ordered)), num=n_overdue)
    else:
        lead = _("截至%(day)s，您有%(tasks)s需要关注：", day=day_cn, tasks=_tasks(len(ordered)))

    text = [greeting, lead, ""]
    rows_html = []
    for i, it in enumerate(ordered, 1):
        title = _item_title(it)
        measure = str(it.get("measure") or "")
        status = _item_status(it)
        deadline = format_date_cn(it.get("deadline"))
        line = f"{i}. {title}"
        if measure:
            line += _paren(measure)
        line += "  " + _("截止：%(deadline)s", deadline=deadline)
        if status:
            line += f"  {status}"
        text.append(line)
        if it.get("note"):
            text.append("   " + _("备注：%(note)s", note=it["note"]))
        if it.get("link"):
            text.append(f"   {it['link']}")
        color = "#c00" if _int(it.get("days_overdue"), 0) > 0 else "#222"
        note = _("备注：%(note)s", note=it["note"]) if it.get("note") else ""
        note_html = f'<br><span style="color:#666;">{_e(note)}</span>' if note else ""
        rows_html.append(
            "<tr>"
            f"<td>{i}</td>"
            f"<td>{_link_html(it.get('link'), title)}{note_html}</td>"
            f"<td>{_e(measure)}</td>"
            f"<td>{_e(deadline)}</td>"
            f'<td style="color:{color};">{_e(status)}</td>'
            "</tr>"
        )
    if link:
        text += ["", _pair(_("查看全部任务"), link)]
    text += ["", f"——{footer()}"]

    table = (
        '<table border="1" cellspacing="0" cellpadding="4" style="border-collapse:collapse;">'
        + _header_row(_("序号"), _("任务"), _("所属措施"), _("截止日期"), _("状态"))
        + "".join(rows_html)
        + "</table>"
    )
    blocks = [f"<p>{_e(greeting)}</p>", f"<p>{_e(lead)}</p>", table]
    return Rendered(
        subject=subject,
        text="\n".join(text),
        html=_html_page(subject, blocks, link, _("查看全部任务")),
        link=link or None,
        items=[_normalise_item(it) for it in ordered],
    )


def group_by_county_department(rows: Sequence[Mapping]) -> list:
    """``[(county, [(department, [row, ...]), ...]), ...]``.

    Counties and departments keep the order of their first appearance in
    ``rows`` (pre-sort the input to choose another order); the rows of a
    department are ordered by ``days_overdue`` descending (stable)."""
    counties: dict = {}
    for row in rows:
        county = str(row.get("county") or "").strip() or _(NO_COUNTY)
        dept = str(row.get("department") or "").strip() or _(NO_DEPARTMENT)
        counties.setdefault(county, {}).setdefault(dept, []).append(row)
    return [
        (county, [(dept, sorted(lst, key=lambda r: -_int(r.get("days_overdue"), 0))) for dept, lst in depts.items()])
        for county, depts in counties.items()
    ]


def weekly_leadership_digest(
    rows: Sequence[Mapping],
    week_start: DateLike,
    week_end: DateLike = None,
    link: Optional[str] = None,
) -> Rendered:
    """Weekly digest for leadership, grouped by county then department.

    ``rows``: dicts with ``county``, ``department``, ``measure``,
    ``task_title``, ``deadline``, ``days_overdue``, ``ladder_label`` and
    optionally ``link``.  ``week_end`` defaults to ``week_start`` + 6 days.
    An empty ``rows`` gives a "no overdue task" digest.
    """
    start = to_date(week_start)
    end = to_date(week_end) or (start + _dt.timedelta(days=6))
    period = f"{format_date_cn(start)}—{format_date_cn(end)}"
    groups = group_by_county_department(rows)
    total = len(rows)
    subject = _("【每周督办简报】%(period)s：逾期任务%(num)d项", period=period, num=total)
    if total:
        lead = _("%(period)s，共有%(tasks)s逾期未完成，涉及%(num)d个县区，按县区、部门汇总如下：",
                 period=period, tasks=_tasks(total), num=len(groups))
    else:
        lead = _("%(period)s，没有逾期未完成的任务。", period=period)

    text = [lead]
    blocks = [f"<p>{_e(lead)}</p>"]
    items = []
    for county, depts in groups:
        county_total = sum(len(lst) for _, lst in depts)
        heading = _("%(name)s（%(num)d项）", name=county, num=county_total)
        text += ["", f"■ {heading}"]
        blocks.append(f'<h3 style="font-size:16px;margin-top:16px;">{_e(heading)}</h3>')
        for dept, lst in depts:
            heading = _("%(name)s（%(num)d项）", name=dept, num=len(lst))
            text.append(f"  ▲ {heading}")
            blocks.append(f'<h4 style="font-size:14px;margin:8px 0 4px;">{_e(heading)}</h4>')
            trs = []
            for row in lst:
                title = _item_title(row)
                measure = str(row.get("measure") or "")
                deadline = format_date_cn(row.get("deadline"))
                overdue = _int(row.get("days_overdue"), 0)
                ladder = str(row.get("ladder_label") or "")
                line = f"    - {title}"
                if measure:
                    line += _paren(measure)
                line += "  " + _("截止：%(deadline)s", deadline=deadline) + "  " + _("逾期%(days)s", days=_days(overdue))
                if ladder:
                    line += "  " + _("【%(level)s】", level=ladder)
                text.append(line)
                if row.get("link"):
                    text.append(f"      {row['link']}")
                trs.append(
                    "<tr>"
                    f"<td>{_e(measure)}</td>"
                    f"<td>{_link_html(row.get('link'), title)}</td>"
                    f"<td>{_e(deadline)}</td>"
                    f'<td style="color:#c00;">{_e(_days(overdue))}</td>'
                    f"<td>{_e(ladder)}</td>"
                    "</tr>"
                )
                item = _normalise_item(row)
                item["county"] = county
                item["department"] = dept
                items.append(item)
            blocks.append(
                '<table border="1" cellspacing="0" cellpadding="4" style="border-collapse:collapse;">'
                + _header_row(_("所属措施"), _("任务"), _("截止日期"), _("逾期"), _("督办等级"))
                + "".join(trs)
                + "</table>"
            )
    if link:
        text += ["", _pair(_("查看督办台账"), link)]
    text += ["", f"——{footer()}"]
    return Rendered(
        subject=subject,
        text="\n".join(text),
        html=_html_page(subject, blocks, link, _("查看督办台账")),
        link=link or None,
        items=items,
    )
