"""Queue notices in the caller's transaction; duplicates (same user, channel, key) are skipped, never raised.

Two entry points:

* :func:`enqueue` — a handful of in-app notices from a web action (one statement);
* :class:`Audience` + :func:`insert_rows` — the scheduler's bulk path: load recipients, preferences and
  robots once, fan each notice out to in-app / e-mail / webhook rows in Python, insert them all with
  one ``INSERT … ON CONFLICT DO NOTHING`` executemany (PostgreSQL and SQLite alike), so two
  schedulers racing can neither fail nor double-queue.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.models import User
from tracker.clock import LOCAL_TZ, utcnow
from tracker.extensions import db
from tracker.notices.models import NoticePreference, Notification, UnitWebhook

INAPP, EMAIL, WEBHOOK = "inapp", "email", "webhook"
#: kinds sent even on a holiday in working-day mode; everything else waits for the next working day
URGENT_KINDS = frozenset({"escalation", "interview"})
#: owner of rows addressed to a group robot rather than a person (a unit's robot, the leadership robot)
GROUP_TARGET_PREFIXES = ("unit:", "leadership")


def insert_ignore(table=None):
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's dialect (PostgreSQL or SQLite)."""
    table = Notification.__table__ if table is None else table
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


_COLUMNS = ("user_id", "channel", "kind", "key", "subject", "body", "link", "task_id", "data", "status", "attempts",
            "next_attempt_at", "last_error", "created_at", "sent_at", "read_at", "batch")
_PG_TYPES = {"user_id": "int", "task_id": "int", "attempts": "int", "data": "text", "next_attempt_at": "timestamp",
             "created_at": "timestamp", "sent_at": "timestamp", "read_at": "timestamp"}
_PG_BULK = ("INSERT INTO notifications (" + ", ".join(_COLUMNS) + ") SELECT "
            + ", ".join("data::json" if c == "data" else c for c in _COLUMNS)
            + " FROM unnest(" + ", ".join(f"CAST(:{c} AS {_PG_TYPES.get(c, 'text')}[])" for c in _COLUMNS)
            + ") AS v(" + ", ".join(_COLUMNS) + ") ON CONFLICT DO NOTHING")


def insert_rows(rows: list[dict]) -> int:
    """Insert notification rows (dicts of column values), skipping duplicates; returns rows added.

    One statement whatever the number of rows: ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO
    NOTHING`` on PostgreSQL (exact row count, no parameter limit), an executemany of ``INSERT … ON
    CONFLICT DO NOTHING`` on SQLite.
    """
    if not rows:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        import json

        from sqlalchemy import text

        arrays = {c: [r.get(c) for r in rows] for c in _COLUMNS}
        arrays["data"] = [json.dumps(d or {}, ensure_ascii=False, default=str) for d in arrays["data"]]
        return max(db.session.execute(text(_PG_BULK), arrays).rowcount, 0)
    result = db.session.execute(insert_ignore(), [{c: r.get(c) for c in _COLUMNS} for r in rows])
    return max(result.rowcount, 0)


def users_of_unit(unit_id: int) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.unit_id == unit_id, User.active.is_(True))))


def users_with_role(*roles: str) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.role.in_(roles), User.active.is_(True))))


def enqueue(user_ids: list[int], *, kind: str, key: str, subject: str, body: str = "", link: str = "",
            task_id: int | None = None, data: dict | None = None, channel: str = "inapp") -> int:
    """Insert one notice per user unless that user already has this key on this channel; returns rows added."""
    if not user_ids:
        return 0
    now = utcnow()
    try:
        db.session.flush()  # the caller's changes (and the task row this notice points at) go first
    except StaleDataError:
        from tracker.errors import STALE_MESSAGE, Conflict

        db.session.rollback()
        raise Conflict(STALE_MESSAGE) from None
    return insert_rows(notice_rows(user_ids, kind=kind, key=key, subject=subject, body=body, link=link,
                                   task_id=task_id, data=data, channel=channel, now=now))


def notice_rows(user_ids: list[int], *, kind: str, key: str, subject: str, body: str = "", link: str = "",
                task_id: int | None = None, data: dict | None = None, channel: str = "inapp",
                now: datetime | None = None) -> list[dict]:
    """The rows `enqueue` inserts (one per distinct user), for callers that insert many notices at once."""
    now = now or utcnow()
    return [{"user_id": uid, "channel": channel, "kind": kind, "key": key, "subject": subject[:300], "body": body,
             "link": link[:300], "task_id": task_id, "data": data or {}, "created_at": now, "attempts": 0,
             "last_error": "", "status": "sent" if channel == INAPP else "pending",
             "sent_at": now if channel == INAPP else None, "next_attempt_at": None if channel == INAPP else now}
            for uid in dict.fromkeys(user_ids)]


def languages_of(user_ids: list[int]) -> dict[str, list[int]]:
    """Recipients grouped by the language they chose (Chinese for everyone who never chose)."""
    from tracker.i18n import DEFAULT, LANGUAGES

    ids = list(dict.fromkeys(user_ids))
    chosen = dict(db.session.execute(select(User.id, User.locale).where(User.id.in_(ids))).all()) if ids else {}
    out: dict[str, list[int]] = {}
    for uid in ids:
        out.setdefault(chosen.get(uid) if chosen.get(uid) in LANGUAGES else DEFAULT, []).append(uid)
    return out


def enqueue_each_language(user_ids: list[int], notice: Callable[[], dict], **extra) -> int:
    """`enqueue` a notice written in each recipient's language: `notice()` returns enqueue's keyword
    arguments (kind, key, subject, body …) and is called once per language, in that language."""
    from flask_babel import force_locale

    added = 0
    for language, ids in languages_of(user_ids).items():
        with force_locale(language):
            added += enqueue(ids, **notice(), **extra)
    return added


def system_user_id() -> int:
    """The system account's id, created race-free (two schedulers starting on a fresh database)."""
    from tracker.auth.models import Role
    from tracker.tasks.operations import SYSTEM_USERNAME

    found = db.session.scalar(select(User.id).where(User.username == SYSTEM_USERNAME))
    if found is None:
        stmt = insert_ignore(User.__table__).values(username=SYSTEM_USERNAME, display_name="系统", role=Role.system,  # i18n: data
                                                    password_hash="", active=True, created_at=utcnow())
        db.session.execute(stmt)
        found = db.session.scalar(select(User.id).where(User.username == SYSTEM_USERNAME))
    return found


# --------------------------------------------------------------------------
# Timing: when an e-mail / webhook row may go out
# --------------------------------------------------------------------------

def local_instant(day: date, hour: int, minute: int) -> datetime:
    """China wall time on `day` → naive UTC, as stored."""
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def next_workday_morning(day: date, calendar, at: tuple[int, int] = (8, 30)) -> datetime:
    """08:30 (China) of the first working day after `day` — where deferred mail waits."""
    nxt = day + timedelta(days=1)
    while not calendar.is_workday(nxt):
        nxt += timedelta(days=1)
    return local_instant(nxt, *at)


# --------------------------------------------------------------------------
# Recipients and channels, loaded once per job
# --------------------------------------------------------------------------

@dataclass
class Recipient:
    id: int
    role: str
    unit_id: int | None
    email: str
    name: str
    email_on: bool = True
    digest: bool = True
    webhook: bool = False


@dataclass
class Notice:
    """One notice about one thing, before fan-out to people and channels."""

    kind: str
    key: str
    subject: str
    body: str
    link: str = ""
    task_id: int | None = None
    data: dict | None = None


class Audience:
    """Everyone who can be notified, with their channels; three queries whatever the number of tasks.

    ``today``/``calendar``/``working_days`` decide when non-urgent mail may leave (next working day
    08:30 on a holiday); ``email_ready`` is False when no SMTP server is configured (no e-mail rows).
    """

    def __init__(self, now: datetime, today: date, *, working_days: bool = False, calendar=None,
                 email_ready: bool = True, digest_at: tuple[int, int] = (8, 30)):
        self.now, self.today = now, today
        self.defer_to = (next_workday_morning(today, calendar, digest_at)
                         if working_days and calendar is not None and not calendar.is_workday(today) else None)
        self.email_ready = email_ready
        prefs = {p.user_id: p for p in db.session.scalars(select(NoticePreference))}
        self.by_unit: dict[int, list[Recipient]] = defaultdict(list)
        self.by_role: dict[str, list[Recipient]] = defaultdict(list)
        rows = db.session.execute(select(User.id, User.role, User.unit_id, User.email, User.display_name)
                                  .where(User.active.is_(True), User.role != "system"))
        for uid, role, unit_id, email, name in rows:
            p = prefs.get(uid)
            role = getattr(role, "value", role)
            r = Recipient(uid, role, unit_id, (email or "").strip(), name or "",
                          email_on=p.email_enabled if p else True, digest=p.digest_daily if p else True,
                          webhook=bool(p and p.webhook_url))
            self.by_role[role].append(r)
            if unit_id is not None and role == "unit":
                self.by_unit[unit_id].append(r)
        self.unit_hooks = set(db.session.scalars(select(UnitWebhook.unit_id)))
        self._system_id: int | None = None

    def system_id(self) -> int:
        if self._system_id is None:
            self._system_id = system_user_id()
        return self._system_id

    def unit_users(self, unit_id: int) -> list[Recipient]:
        return self.by_unit.get(unit_id, [])

    def has_recipients(self, people: list[Recipient], unit_id: int | None = None) -> bool:
        return bool(people) or (unit_id is not None and unit_id in self.unit_hooks)

    def role(self, *roles: str) -> list[Recipient]:
        return [r for role in roles for r in self.by_role.get(role, [])]

    def _row(self, n: Notice, user_id: int, channel: str, *, held: bool = False, data: dict | None = None,
             key_suffix: str = "") -> dict:
        inapp = channel == INAPP
        if inapp:
            status, sent_at, nxt = "sent", self.now, None
        elif held:
            status, sent_at, nxt = "pending", None, None  # waits for the daily digest
        else:
            status, sent_at = "pending", None
            nxt = self.defer_to if (self.defer_to and n.kind not in URGENT_KINDS) else self.now
        return {"user_id": user_id, "channel": channel, "kind": n.kind, "key": (n.key + key_suffix)[:200],
                    "subject": n.subject[:300], "body": n.body, "link": (n.link or "")[:300], "task_id": n.task_id,
                    "data": data if data is not None else (n.data or {}), "status": status, "attempts": 0,
                    "next_attempt_at": nxt, "last_error": "", "created_at": self.now, "sent_at": sent_at, "read_at": None, "batch": None}

    def rows_for(self, n: Notice, people: list[Recipient], *, unit_id: int | None = None,
                 digestible: bool = True) -> list[dict]:
        """In-app for everyone; e-mail / personal webhook as each person prefers; the unit's robot once.

        ``digestible=False`` (the digests themselves) sends e-mail/webhook now instead of holding it.
        """
        out = []
        for r in people:
            out.append(self._row(n, r.id, INAPP))
            held = digestible and r.digest
            if self.email_ready and r.email and r.email_on:
                out.append(self._row(n, r.id, EMAIL, held=held))
            if r.webhook:
                out.append(self._row(n, r.id, WEBHOOK, held=held))
        if unit_id is not None and unit_id in self.unit_hooks:
            data = {**(n.data or {}), "target": f"unit:{unit_id}"}
            out.append(self._row(n, self.system_id(), WEBHOOK, held=digestible, data=data, key_suffix=f"|unit={unit_id}"))
        return out

    def group_robot_row(self, n: Notice) -> dict:
        data = {**(n.data or {}), "target": "leadership"}
        return self._row(n, self.system_id(), WEBHOOK, held=False, data=data, key_suffix="|leadership")


def count_by_channel(rows: list[dict]) -> dict[str, int]:
    out = {INAPP: 0, EMAIL: 0, WEBHOOK: 0}
    for r in rows:
        out[r["channel"]] = out.get(r["channel"], 0) + 1
    return out
