"""The jobs, how one run of a job is executed, and ``tick`` (every job once, as of the clock).

A job is a function of a :class:`JobEnv` (today, now, policy, calendar …) returning a JSON-able
summary. :func:`run_job` gives it one transaction: it commits once at the end (the dispatcher
commits per message), rolls back on error and retries a deadlock or serialization failure.
Calendar jobs (digests, nightly indicators) first claim their slot — the fire time — in
``scheduler_slots``; an already claimed slot means "done already", so a restart, a catch-up tick or
a second scheduler never runs the same slot twice. State-driven jobs (roll-over, sweep, dispatch)
are idempotent by themselves and run whenever asked.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from tracker.clock import LOCAL_TZ, get_clock, utcnow
from tracker.clock import today as clock_today
from tracker.extensions import db
from tracker.notices.outbox import Audience
from tracker.scheduler import config
from tracker.scheduler.models import JobSlot
from workflows.policy import EscalationPolicy

JOB_LABELS = {
    "rollover": _l("周期任务滚动"), "sweep": _l("到期提醒与督办升级"), "indicators": _l("指标重新评估"),
    "daily_digest": _l("每日待办汇总"), "weekly_digest": _l("领导小组周报"), "dispatch": _l("发送通知"),
}


@dataclass
class JobEnv:
    now: datetime  # naive UTC
    today: date  # China date
    policy: EscalationPolicy
    calendar: object | None
    slot: str | None = None

    @cached_property
    def actor_id(self) -> int:
        from tracker.notices.outbox import system_user_id

        return system_user_id()

    @cached_property
    def base_url(self) -> str:
        return config.base_url()

    @cached_property
    def task_path(self) -> str:
        adapter = current_app.url_map.bind("localhost")
        return adapter.build("tasks.detail", {"task_id": 987654321}).replace("987654321", "{id}")

    def link(self, task_id: int) -> str:
        return self.base_url + self.task_path.format(id=task_id)

    def audience(self) -> Audience:
        return Audience(self.now, self.today, working_days=self.policy.working_days, calendar=self.calendar,
                        email_ready=config.smtp_settings() is not None, digest_at=config.digest_time())


def make_env() -> JobEnv:
    from tracker.tasks.policy_store import load_policy

    policy = load_policy()
    calendar = None
    if policy.working_days:
        from notifications.workdays import get_calendar

        calendar = get_calendar()
    return JobEnv(now=utcnow(), today=clock_today(), policy=policy, calendar=calendar)


# --------------------------------------------------------------------------
# The jobs
# --------------------------------------------------------------------------

def job_rollover(env: JobEnv) -> dict:
    from tracker.scheduler.recurring import roll_over

    return roll_over(env.today, env.now, env.actor_id, env.audience(), env.task_path, env.base_url)


def job_sweep(env: JobEnv) -> dict:
    from tracker.scheduler.sweep import SweepContext, run_sweep

    return run_sweep(SweepContext(today=env.today, now=env.now, policy=env.policy, calendar=env.calendar,
                                  audience=env.audience(), actor_id=env.actor_id, task_path=env.task_path,
                                  base_url=env.base_url))


def job_indicators(env: JobEnv) -> dict:
    """Nightly: re-evaluate the counties, then recompute the supervisors' flags (overdue at interview level,
    slippage, missed milestones, missed rectification) from the day's ladder and evaluations."""
    from tracker.supervision import flags

    result = _reevaluate(env)
    result["flags"] = flags.refresh(env.today)
    return result


def _reevaluate(env: JobEnv) -> dict:
    try:
        from tracker.indicators import operations as indicator_ops
    except ImportError:
        indicator_ops = None
    fn = getattr(indicator_ops, "reevaluate_all", None)
    if fn is None:
        return {"status": "skipped", "reason": "skipped: indicators module not installed"}
    params = list(inspect.signature(fn).parameters.values())
    needs_year = params and params[0].default is inspect.Parameter.empty
    result = fn(env.today.year) if needs_year else fn()
    return {"result": result if isinstance(result, (dict, list, int, str, type(None))) else str(result)}


def job_daily_digest(env: JobEnv) -> dict:
    from tracker.scheduler.digest import release_daily

    return release_daily(env.today, env.now, working_days=env.policy.working_days, calendar=env.calendar)


def job_weekly_digest(env: JobEnv) -> dict:
    from tracker.scheduler.digest import weekly_digest

    return weekly_digest(env.today, env.audience(), env.link, env.base_url + "/",
                         group_robot=config.leadership_webhook() is not None)


def job_dispatch(env: JobEnv) -> dict:
    from tracker.scheduler.dispatch import dispatch

    return dispatch(env.now, env.today)


JOBS = {
    "rollover": job_rollover, "sweep": job_sweep, "indicators": job_indicators,
    "daily_digest": job_daily_digest, "weekly_digest": job_weekly_digest, "dispatch": job_dispatch,
}


# --------------------------------------------------------------------------
# Slots of calendar jobs
# --------------------------------------------------------------------------

def due_fire_time(spec: config.JobSpec, now: datetime) -> datetime | None:
    """The latest fire time in (now - grace, now], or None: is this calendar job due at ``now``?"""
    trigger = spec.trigger()
    now = now.astimezone(LOCAL_TZ)
    fire, last = trigger.get_next_fire_time(None, now - timedelta(seconds=spec.grace) + timedelta(microseconds=1)), None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


def next_fire_time(spec: config.JobSpec, now: datetime) -> datetime | None:
    return spec.trigger().get_next_fire_time(None, now.astimezone(LOCAL_TZ) + timedelta(seconds=1))


def previous_fire_time(spec: config.JobSpec, now: datetime) -> datetime | None:
    """The latest fire time at or before ``now`` within the last 35 days (for --force)."""
    return due_fire_time(config.JobSpec(spec.name, spec.cron, 35 * 86400), now)


def _claim(job: str, slot: str, now: datetime) -> bool:
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (insert(JobSlot.__table__).values(job=job, slot=slot, as_of=now, result={})
            .on_conflict_do_nothing().returning(JobSlot.__table__.c.job))
    return db.session.execute(stmt).first() is not None


def _transient(exc: DBAPIError) -> bool:
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    return code in ("40P01", "40001") or "database is locked" in str(exc)


def run_job(name: str, *, specs: dict | None = None, force: bool = False, retries: int = 3) -> dict:
    """Run one job as of the app's clock, in its own transaction. Needs an app context."""
    specs = specs or config.load_jobs()
    slot = None
    if name in config.SLOT_JOBS:
        now_aware = get_clock().now()
        fire = due_fire_time(specs[name], now_aware) or (previous_fire_time(specs[name], now_aware) if force else None)
        if fire is None:
            nxt = next_fire_time(specs[name], now_aware)
            return {"status": "not_due", "next": nxt.strftime("%Y-%m-%dT%H:%M") if nxt else None}
        slot = fire.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    for attempt in range(1, retries + 1):
        try:
            env = make_env()
            env.slot = slot
            if slot and not _claim(name, slot, env.now):
                db.session.rollback()
                return {"status": "already_done", "slot": slot}
            result = JOBS[name](env)
            if slot:
                db.session.execute(update(JobSlot.__table__)
                                   .where(JobSlot.job == name, JobSlot.slot == slot).values(result=result))
            db.session.commit()
            return {"status": "done", **({"slot": slot} if slot else {}), **result}
        except DBAPIError as exc:
            db.session.rollback()
            if attempt < retries and _transient(exc):
                time.sleep(0.2 * attempt)
                continue
            raise
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def tick(names: list[str] | None = None, *, force: bool = False, specs: dict | None = None) -> dict:
    """Every job once (or the named ones), in order, as of the app's clock. A failing job is reported,
    the next one still runs."""
    specs = specs or config.load_jobs()
    out = {}
    for name in config.JOB_ORDER:
        if names and name not in names:
            continue
        try:
            out[name] = run_job(name, specs=specs, force=force)
        except Exception as exc:
            current_app.logger.exception("scheduler job %s failed", name)
            out[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    return out


class LeaderBusy(RuntimeError):
    """Another scheduler holds the leader lock."""


def locked_tick(names: list[str] | None = None, *, force: bool = False, wait: float | None = 30.0) -> dict:
    """:func:`tick` as the leader: waits up to ``wait`` seconds for the leader lock, else LeaderBusy."""
    from tracker.scheduler.lock import LeaderLock

    lock = LeaderLock(db.engine, current_app.instance_path)
    if not lock.acquire(wait=wait):
        raise LeaderBusy(lock.describe())
    try:
        return tick(names, force=force)
    finally:
        lock.release()
