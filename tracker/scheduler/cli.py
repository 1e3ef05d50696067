"""``flask --app wsgi scheduler …``: run the scheduler process, tick as of any instant, list jobs."""
from __future__ import annotations

import json
import logging
import signal
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tracker.cli_utils import emit
from tracker.clock import LOCAL_TZ, FixedClock, parse_instant
from tracker.extensions import db
from tracker.scheduler import config
from tracker.scheduler.jobs import JOB_LABELS, LeaderBusy, locked_tick, next_fire_time, run_job, tick
from tracker.scheduler.lock import LeaderLock
from workflows.ladder import LADDER_LABELS

scheduler_cli = click.Group("scheduler", help=_l("定时任务：到期提醒、督办升级、汇总与通知发送"))
log = logging.getLogger("tracker.scheduler")


def _summary(name: str, r: dict) -> str:
    label = JOB_LABELS.get(name, name)
    status = r.get("status")
    if status == "not_due":
        return _("%(job)s：未到执行时间（下次 %(next)s）", job=label, next=r.get("next"))
    if status == "already_done":
        return _("%(job)s：本时段（%(slot)s）已执行过", job=label, slot=r.get("slot"))
    if status == "error":
        return _("%(job)s：出错 %(error)s", job=label, error=r.get("error"))
    if name == "sweep":
        moved = _("、").join(f"{LADDER_LABELS.get(k, k)} {v}" for k, v in r["moved"].items() if v) or _("无")
        return _("%(job)s：发出提醒 %(reminders)s 项任务；督办等级变动：%(moved)s；审计记录 %(audit)s 条；新通知 %(notices)s 条",
                 job=label, reminders=r["reminders"], moved=moved, audit=r["audit_rows"], notices=r["notices_queued"])
    if name == "dispatch":
        return _("%(job)s：到期 %(due)s 条，发出 %(messages)s 封/条消息（%(sent)s 条通知已送达），失败待重试 %(failed)s，放弃 %(dead)s",
                 job=label, due=r["due"], messages=r["messages"], sent=r["sent"], failed=r["failed"], dead=r["dead"])
    if name == "rollover":
        return _("%(job)s：%(period)s 年度新建任务 %(num)s 项", job=label, period=r.get("period"), num=r.get("created", 0))
    if name == "daily_digest":
        return _("%(job)s：放行 %(released)s 条待汇总通知，%(messages)s 份汇总", job=label, released=r.get("released", 0),
                 messages=r.get("messages", 0)) + (_("（%(note)s）", note=r["deferred"]) if r.get("deferred") else "")
    if name == "weekly_digest":
        return _("%(job)s：逾期任务 %(overdue)s 项，新通知 %(notices)s 条", job=label, overdue=r.get("overdue", 0),
                 notices=r.get("notices_queued", 0)) + (_("（%(note)s）", note=r["note"]) if r.get("note") else "")
    if name == "indicators":
        return _("%(job)s：%(result)s", job=label, result=r.get("reason") or r.get("result"))
    return _("%(job)s：%(result)s", job=label, result=json.dumps(r, ensure_ascii=False, default=str))


@scheduler_cli.command("tick")
@click.option("--now", "now_text", help=_l("按此时刻运行（中国时间，如 2026-03-01T09:00）；默认为当前时间"))
@click.option("--job", "jobs", multiple=True, type=click.Choice(config.JOB_ORDER), help=_l("只运行这些任务（可重复）"))
@click.option("--force", is_flag=True, help=_l("日历任务（汇总、夜间评估）不在执行时段也按最近一个时段运行"))
@click.option("--wait", default=30.0, show_default=True, help=_l("另一调度进程持有锁时最多等待的秒数"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tick_command(now_text, jobs, force, wait, as_json):
    """每个任务按指定时刻运行一次，并报告各自做了什么（时间旅行演示与排错）。"""
    app = current_app._get_current_object()
    previous = app.extensions["clock"]
    if now_text:
        try:
            app.extensions["clock"] = FixedClock(parse_instant(now_text))
        except ValueError:
            raise click.BadParameter(_("无法识别的时刻：%(now)s（示例：2026-03-01T09:00）", now=now_text), param_hint="--now")
    try:
        try:
            results = locked_tick(list(jobs) or None, force=force, wait=wait)
        except LeaderBusy as exc:
            click.echo(_("错误：另一个调度进程正在运行（%(holder)s），%(wait)s 秒内未能取得执行权。"
                         "请先停止 `scheduler run`，或加大 --wait。", holder=exc, wait=f"{wait:g}"), err=True)
            sys.exit(1)
        now = app.extensions["clock"].now()
        data = {"now": now.astimezone(LOCAL_TZ).isoformat(timespec="minutes"),
                "jobs": results}
        text = "\n".join([_("时刻：%(now)s（中国时间）", now=data["now"]), *(_summary(n, r) for n, r in results.items())])
        emit(data, as_json, text)
        if any(r.get("status") == "error" for r in results.values()):
            sys.exit(1)
    finally:
        app.extensions["clock"] = previous


@scheduler_cli.command("jobs")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def jobs_command(as_json):
    """列出调度任务、时间（data/scheduler.yaml 与环境变量）及下次执行时间。"""
    from tracker.clock import get_clock

    now = get_clock().now()
    rows = []
    for name, spec in config.load_jobs().items():
        nxt = next_fire_time(spec, now)
        rows.append({"job": name, "label": str(JOB_LABELS[name]), "cron": spec.cron, "grace": spec.grace,
                     "next": nxt.strftime("%Y-%m-%dT%H:%M") if nxt else None})
    emit(rows, as_json, "\n".join(_("%(job)s %(cron)s 下次 %(next)s  %(label)s", job=f"{r['job']:<14}", cron=f"{r['cron']:<14}",
                                     next=r["next"], label=r["label"]) for r in rows))


def _scheduled(app, name: str, specs: dict) -> None:
    with app.app_context():
        try:
            result = run_job(name, specs=specs)
        except Exception:
            log.exception("job %s failed", name)
            return
        if result.get("status") != "not_due" and not (name == "dispatch" and not result.get("due")):
            log.info("%s", _summary(name, result))


@scheduler_cli.command("run")
@click.option("--no-catch-up", is_flag=True, help=_l("启动时不先补跑一次（默认补跑停机期间错过的提醒与督办）"))
@with_appcontext
def run_command(no_catch_up):
    """启动调度进程（独立进程；同一时间只有一个进程执行任务，其余等待接管）。"""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = current_app._get_current_object()
    specs = config.load_jobs()
    lock = LeaderLock(db.engine, app.instance_path)
    db.session.remove()
    log.info("%s", _("等待成为调度主进程（%(lock)s）…", lock=lock.describe()))
    lock.acquire(wait=None, poll=5, on_wait=lambda: log.info("%s", _("另一个调度进程正在运行，本进程待命，它停止后自动接管")))
    log.info("%s", _("已成为调度主进程"))
    sched = BlockingScheduler(timezone="Asia/Shanghai", executors={"default": ThreadPoolExecutor(1)},
                              job_defaults={"coalesce": True, "max_instances": 1})
    for name, spec in specs.items():
        sched.add_job(_scheduled, spec.trigger(), args=[app, name, specs], id=name, name=str(JOB_LABELS[name]),
                      coalesce=True, max_instances=1, misfire_grace_time=spec.grace, replace_existing=True)

    lost = []

    def heartbeat():
        if not lock.alive():
            lost.append(True)
            log.error("%s", _("调度锁已丢失（数据库连接断开？），停止以免与其他进程重复执行"))
            sched.shutdown(wait=False)

    sched.add_job(heartbeat, "interval", seconds=30, id="leader_heartbeat", coalesce=True, max_instances=1)

    def stop(signum, _frame):
        log.info("%s", _("收到信号 %(signal)s，停止调度", signal=signum))
        sched.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not no_catch_up:
        with app.app_context():
            for name, result in tick(specs=specs).items():
                log.info("%s", _("启动补跑 %(summary)s", summary=_summary(name, result)))
    try:
        sched.start()
    finally:
        lock.release()
    if lost:
        sys.exit(1)


@scheduler_cli.command("retry-dead")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def retry_dead_command(as_json):
    """把发送失败而放弃（dead）的通知重新放回发送队列。"""
    from tracker.clock import utcnow
    from tracker.scheduler.dispatch import retry_dead

    count = retry_dead(None, utcnow())
    db.session.commit()
    emit({"requeued": count}, as_json, _("已重新排队 %(num)s 条通知。", num=count))


@scheduler_cli.command("unit-webhook")
@click.argument("unit")
@click.argument("url", required=False)
@click.option("--flavor", type=click.Choice(["dingtalk", "wecom", "generic"]), default="dingtalk", show_default=True)
@click.option("--secret", default="", help=_l("钉钉加签密钥或通用 Webhook 的 HMAC 密钥"))
@click.option("--remove", is_flag=True, help=_l("删除该单位的群机器人"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def unit_webhook_command(unit, url, flavor, secret, remove, as_json):
    """设置单位群机器人：UNIT 为单位代码或名称，URL 为机器人地址。"""
    from sqlalchemy import or_, select

    from notifications.channels import WebhookChannel
    from tracker.cli_utils import UserError, unit_of_work
    from tracker.clock import utcnow
    from tracker.notices.models import UnitWebhook
    from tracker.units.models import Unit

    with unit_of_work():
        row = db.session.scalar(select(Unit).where(or_(Unit.code == unit, Unit.name == unit)))
        if row is None:
            raise UserError(_("没有找到单位：%(unit)s", unit=unit))
        hook = db.session.get(UnitWebhook, row.id)
        if remove:
            if hook:
                db.session.delete(hook)
            result = {"unit": row.name, "removed": True}
        else:
            if not url:
                raise UserError(_("请给出机器人地址（URL）"))
            try:
                WebhookChannel(url, flavor=flavor, secret=secret or None)
            except ValueError as exc:
                raise UserError(_("机器人设置无效：%(error)s", error=exc)) from None
            hook = hook or UnitWebhook(unit_id=row.id)
            hook.url, hook.flavor, hook.secret, hook.updated_at = url, flavor, secret, utcnow()
            db.session.add(hook)
            result = {"unit": row.name, "flavor": flavor}
    emit(result, as_json, _("%(unit)s：已删除群机器人", unit=row.name) if remove
         else _("%(unit)s：群机器人已设置（%(flavor)s）", unit=row.name, flavor=flavor))
