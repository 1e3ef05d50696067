"""`flask tasks list` and `flask task fire|history` for admins and scripts."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tracker.auth.models import User
from tracker.cli_utils import UserError, emit, unit_of_work
from tracker.extensions import db
from tracker.tasks import operations as ops
from tracker.tasks.models import Task, TaskEvent
from tracker.tasks.queries import list_tasks, task_row
from workflows import ladder, lifecycle

tasks_cli = click.Group("tasks", help=_l("任务查询"))
task_cli = click.Group("task", help=_l("单项任务操作"))


@tasks_cli.command("list")
@click.option("--unit", "unit_code", help=_l("责任单位代码"))
@click.option("--status", help=_l("任务状态（assigned/in_progress/submitted/completed/returned/…）"))
@click.option("--plan", "plan_id", type=int, help=_l("方案编号"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(unit_code, status, plan_id, as_json) -> None:
    """列出任务（可按单位、状态筛选）。"""
    rows = [task_row(t) for t in list_tasks(unit_code=unit_code, status=status, plan_id=plan_id)]
    emit(rows, as_json, "\n".join("\t".join([str(r["id"]), _("（%(text)s）", text=r["measure"]), r["unit_code"], r["unit_name"],
                                             r["deadline"], r["status"]]) for r in rows) or _("（无任务）"))


def _task(task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None:
        raise UserError(_("找不到任务 %(id)s", id=task_id))
    return task


@task_cli.command("fire")
@click.argument("task_id", type=int)
@click.argument("event")
@click.option("--as", "username", required=True, help=_l("以哪个用户的身份操作"))
@click.option("--comment", default="", help=_l("意见/理由"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def fire_command(task_id, event, username, comment, as_json) -> None:
    """对任务触发事件：accept submit verify return resume reopen suspend cancel restore，或督办事件。"""
    with unit_of_work():
        task = _task(task_id)
        actor = db.session.scalar(select(User).where(User.username == username))
        if actor is None:
            raise UserError(_("找不到用户“%(username)s”", username=username))
        if event in lifecycle.EVENT_LABELS:
            result = ops.fire(task, event, actor, comment=comment)
        elif event in ladder.LADDER_EVENT_LABELS:
            result = ops.fire_ladder(task, event, actor, comment=comment)
        else:
            raise UserError(_("未知事件“%(event)s”：可用 %(events)s", event=event,
                              events=", ".join([*lifecycle.EVENT_LABELS, *ladder.LADDER_EVENT_LABELS])))
    emit({**result, "status": task.status}, as_json,
         _("任务 %(id)s：%(old)s → %(new)s", id=task_id, old=result["from"], new=result["to"]))


@task_cli.command("history")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def history_command(task_id, as_json) -> None:
    """任务的完整办理记录。"""
    _task(task_id)
    rows = [{"at": e.created_at, "actor": e.actor.username if e.actor else None, "event": e.event,
             "from": e.from_status, "to": e.to_status, "ladder_from": e.from_ladder, "ladder_to": e.to_ladder,
             "comment": e.comment, "data": e.data}
            for e in db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id))]
    emit(rows, as_json, "\n".join(f"{r['at']:%Y-%m-%d %H:%M}\t{r['actor']}\t{r['event']}\t{r['from'] or ''}→{r['to'] or ''}\t{r['comment']}"
                                  for r in rows) or _("（无记录）"))
