"""ICS feed of a unit's deadlines for Outlook and phone calendars, behind a per-user secret URL.

The secret is an HMAC of the user id keyed by the app secret and the user's password hash, so it
needs no storage and changing the password revokes the old URL.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _


def calendar_token(user) -> str:
    key = (current_app.config["SECRET_KEY"] + ":" + (user.password_hash or "")).encode()
    return hmac.new(key, f"ics:{user.id}".encode(), hashlib.sha256).hexdigest()[:40]


def valid_token(user, token: str) -> bool:
    return bool(user and user.active and user.password_hash) and hmac.compare_digest(calendar_token(user), token or "")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """RFC 5545: lines longer than 75 octets continue on the next line after a space (never inside a character)."""
    out, current = [], ""
    for ch in line:
        limit = 75 if not out else 74
        if len((current + ch).encode("utf-8")) > limit:
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return [out[0]] + [" " + part for part in out[1:]]


def render(tasks, *, name: str, link_for, stamp: datetime, host: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//youzhi-junheng//duban//ZH", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape(name)}", "X-WR-TIMEZONE:Asia/Shanghai"]
    dtstamp = stamp.strftime("%Y%m%dT%H%M%SZ")
    alarm = _escape(_("7天后到期"))
    for t in tasks:
        due: date = t.deadline
        summary = _escape(_("【截止】%(title)s", title=t.measure.label + " · " + t.unit.name))
        description = _escape(_("任务状态：%(status)s。", status=t.status_label) + link_for(t))
        lines += [
            "BEGIN:VEVENT", f"UID:task-{t.id}@{host}", f"DTSTAMP:{dtstamp}",
            f"DTSTART;VALUE=DATE:{due:%Y%m%d}", f"DTEND;VALUE=DATE:{due + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{summary}",
            f"DESCRIPTION:{description}",
            f"URL:{link_for(t)}",
            "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-P7D", f"DESCRIPTION:{alarm}", "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"
