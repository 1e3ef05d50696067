"""Scheduler and delivery settings: job times from data/scheduler.yaml (env overrides), SMTP and robots.

Precedence for every value: ``app.config`` (tests, wsgi overrides) → environment → file/default.

Environment:
  TRACKER_<JOB>_CRON / TRACKER_<JOB>_GRACE   job time and misfire grace (JOB = SWEEP, DISPATCH, …)
  TRACKER_SCHEDULER_FILE                     another job-time file
  TRACKER_SMTP_HOST, _PORT, _USER, _PASSWORD, _TLS (none|starttls|ssl), _SENDER, _TIMEOUT
  TRACKER_NOTICE_MAX_ATTEMPTS, TRACKER_NOTICE_RETRY_BASE (seconds), TRACKER_DIGEST_TIME (HH:MM)
  TRACKER_LEADERSHIP_WEBHOOK_URL, _FLAVOR, _SECRET   the leadership group robot (weekly digest)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app
from flask_babel import gettext as _

from notifications.channels import MAX_ATTEMPTS

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = ROOT / "data" / "scheduler.yaml"
#: the order `tick` runs them in: new tasks first, then the ladder, then what is sent about it
JOB_ORDER = ("rollover", "sweep", "indicators", "daily_digest", "weekly_digest", "dispatch")
#: jobs bound to a calendar slot: run at most once per fire time (the others are state-driven)
SLOT_JOBS = frozenset({"indicators", "daily_digest", "weekly_digest"})
DEFAULT_JOBS = {
    "rollover": {"cron": "10 0 * * *", "grace": 86400},
    "sweep": {"cron": "0 * * * *", "grace": 3600},
    "indicators": {"cron": "30 2 * * *", "grace": 86400},
    "daily_digest": {"cron": "30 8 * * *", "grace": 43200},
    "weekly_digest": {"cron": "30 8 * * mon", "grace": 43200},
    "dispatch": {"cron": "* * * * *", "grace": 60},
}


@dataclass(frozen=True)
class JobSpec:
    name: str
    cron: str
    grace: int

    def trigger(self, timezone: str = "Asia/Shanghai"):
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger.from_crontab(self.cron, timezone=timezone)


def _setting(name: str, default=None):
    """app.config[NAME] → env TRACKER_NAME → default."""
    try:
        cfg = current_app.config
    except RuntimeError:
        cfg = {}
    if cfg.get(name) not in (None, ""):
        return cfg[name]
    env = os.environ.get("TRACKER_" + name)
    return env if env not in (None, "") else default


def load_jobs(path: str | Path | None = None) -> dict[str, JobSpec]:
    path = Path(path or _setting("SCHEDULER_FILE") or DEFAULT_FILE)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    jobs = (data or {}).get("jobs") or {}
    out = {}
    for name in JOB_ORDER:
        spec = {**DEFAULT_JOBS[name], **(jobs.get(name) or {})}
        cron = str(_setting(f"{name.upper()}_CRON", spec["cron"]))
        grace = int(_setting(f"{name.upper()}_GRACE", spec["grace"]))
        out[name] = JobSpec(name, cron, grace)
    for spec in out.values():  # fail at start-up, naming the job, not at 3 a.m.
        try:
            spec.trigger()
        except ValueError as exc:
            raise ValueError(_("调度任务 %(job)s 的时间“%(cron)s”无效：%(error)s", job=spec.name, cron=spec.cron, error=exc)) from exc
    return out


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    tls: str  # none | starttls | ssl
    sender: str
    timeout: float

    def channel(self):
        from notifications.channels import SmtpChannel

        return SmtpChannel(self.host, self.port, username=self.username or None, password=self.password,
                           starttls=self.tls == "starttls", ssl=self.tls == "ssl", sender=self.sender,
                           timeout=self.timeout)


def smtp_settings() -> SmtpSettings | None:
    """None when no SMTP host is configured: then no e-mail rows are queued at all."""
    host = _setting("SMTP_HOST")
    if not host:
        return None
    tls = str(_setting("SMTP_TLS", "none")).lower()
    tls = {"true": "starttls", "1": "starttls", "false": "none", "0": "none", "": "none"}.get(tls, tls)
    if tls not in ("none", "starttls", "ssl"):
        raise ValueError(_("TRACKER_SMTP_TLS 应为 none、starttls 或 ssl，收到：%(value)s", value=tls))
    return SmtpSettings(host=str(host), port=int(_setting("SMTP_PORT", 465 if tls == "ssl" else 25)),
                        username=str(_setting("SMTP_USER", "")), password=str(_setting("SMTP_PASSWORD", "")),
                        # a setting's default (the From header of every mail), not text of a page
                        tls=tls, sender=str(_setting("SMTP_SENDER", "优质均衡督办系统 <noreply@localhost.localdomain>")),  # i18n: data
                        timeout=float(_setting("SMTP_TIMEOUT", 10)))


def leadership_webhook() -> tuple[str, str, str] | None:
    """(url, flavor, secret) of the leadership group robot, or None."""
    url = _setting("LEADERSHIP_WEBHOOK_URL")
    if not url:
        return None
    return str(url), str(_setting("LEADERSHIP_WEBHOOK_FLAVOR", "dingtalk")), str(_setting("LEADERSHIP_WEBHOOK_SECRET", ""))


def max_attempts() -> int:
    return max(1, int(_setting("NOTICE_MAX_ATTEMPTS", MAX_ATTEMPTS)))


def retry_base() -> float:
    return float(_setting("NOTICE_RETRY_BASE", 60))


def digest_time() -> tuple[int, int]:
    """When deferred (non-working-day) mail goes out: the daily digest's hour and minute, 08:30 by default."""
    text = str(_setting("DIGEST_TIME", "08:30"))
    hour, _colon, minute = text.partition(":")
    return int(hour), int(minute or 0)


def base_url() -> str:
    return str(_setting("BASE_URL", "http://127.0.0.1:5000")).rstrip("/")
