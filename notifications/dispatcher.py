"""Turning outbox rows into deliverable messages (plain Python, no Flask/SQLAlchemy).

The dispatcher job (tracker.scheduler.dispatch) selects due rows and groups them per recipient,
channel and batch; this module decides how a group reads:

* one row → that notice's own text (reminder, overdue notice, escalation, interview flag, weekly
  digest …), re-rendered from the row's ``data`` so the e-mail gets its HTML part;
* several rows, or a daily-digest batch → one 每日待办 message listing every item.

It also classifies failures: :func:`outcome` says what becomes of the rows after a failed send.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflows.i18n import _

from . import messages
from .channels import DeliveryError, Message, retry_delay, should_retry

#: kinds that are a whole message by themselves and are never folded into a digest
STANDALONE_KINDS = frozenset({"weekly_digest"})


@dataclass
class Row:
    """What the renderer needs of one outbox row."""

    id: int
    kind: str
    key: str
    subject: str
    body: str = ""
    link: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    batch: str | None = None


def _generic(row: Row) -> messages.Rendered:
    text = row.body or row.subject
    if row.link and row.link not in text:
        text += "\n\n" + _("查看详情：%(link)s", link=row.link)
    html_body = "".join(f"<p>{messages._e(line)}</p>" for line in (row.body or row.subject).splitlines() if line.strip())
    return messages.Rendered(row.subject, text + f"\n\n——{messages.footer()}",
                             messages._html_page(row.subject, [html_body], row.link or None, _("查看详情")),
                             row.link or None)


def render_one(row: Row) -> messages.Rendered:
    d = dict(row.data or {})
    try:
        if row.kind == "reminder":
            return messages.reminder(d, max(int(d.get("days_left", 0)), 0))
        if row.kind == "overdue":
            return messages.overdue_notice(d, int(d.get("days_overdue", 0)))
        if row.kind == "escalation":
            return messages.escalation(d, int(d.get("days_overdue", 0)), _("督办"))
        if row.kind == "interview":
            return messages.interview_flag(d, int(d.get("days_overdue", 0)))
        if row.kind == "weekly_digest" and d.get("rows"):
            r = messages.weekly_leadership_digest(d["rows"], d["week_start"], d.get("week_end"), link=row.link or None)
            return messages.Rendered(row.subject or r.subject, r.text, r.html, r.link, r.items)
    except (TypeError, ValueError, KeyError):
        pass  # an old or hand-made row: fall back to its stored subject and body
    return _generic(row)


def digest_item(row: Row) -> dict:
    d = dict(row.data or {})
    item = {"task_title": d.get("title") or row.subject, "measure": "", "deadline": d.get("deadline"),
            "note": row.subject, "link": row.link or d.get("link") or ""}
    if d.get("days_overdue") is not None and int(d["days_overdue"]) > 0:
        item["days_overdue"] = int(d["days_overdue"])
    elif d.get("days_left") is not None:
        item["days_left"] = max(int(d["days_left"]), 0)
    return item


def render_group(rows: Sequence[Row], day: _dt.date, recipient_name: str = "", inbox_link: str = "") -> messages.Rendered:
    """One message for a group of rows addressed to the same recipient on the same channel."""
    if not rows:
        raise ValueError("empty group")
    digest = any((r.batch or "").startswith("daily:") for r in rows)
    if len(rows) == 1 and (not digest or rows[0].kind in STANDALONE_KINDS):
        return render_one(rows[0])
    return messages.daily_digest([digest_item(r) for r in rows], day, recipient_name, link=inbox_link or None)


def group_key(rows: Sequence[Row]) -> str:
    """Stable idempotency key of a grouped delivery (the same rows retried give the same key)."""
    if len(rows) == 1:
        return rows[0].key
    ids = sorted(r.id for r in rows)
    return f"{rows[0].batch or 'group'}:{ids[0]}-{ids[-1]}:{len(ids)}"


def to_message(rendered: messages.Rendered, recipient: str, key: str) -> Message:
    return rendered.to_message(recipient, key)


@dataclass(frozen=True)
class Outcome:
    status: str  # failed (will retry) | dead
    next_in: float | None  # seconds until the next try
    error: str


def outcome(error: BaseException, attempt: int, max_attempts: int, base: float = 60) -> Outcome:
    """What happens to rows whose ``attempt``-th try failed with ``error``."""
    detail = getattr(error, "detail", None) or f"{type(error).__name__}: {error}"
    if isinstance(error, DeliveryError) and should_retry(error, attempt, max_attempts):
        return Outcome("failed", retry_delay(attempt, base=base), detail)
    if isinstance(error, DeliveryError) and error.retryable:
        detail = _("%(detail)s（已尝试%(num)d次，放弃）", detail=detail, num=attempt)
    return Outcome("dead", None, detail)
