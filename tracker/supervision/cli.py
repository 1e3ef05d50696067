"""`flask supervision …`: flags, interviews, rectification items, accountability records, a unit's file.

Every command acts as the user named by --by (whose role the operation checks) and commits once."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tracker.auth.models import User
from tracker.cli_utils import UserError, emit, unit_of_work
from tracker.clock import parse_instant, today
from tracker.extensions import db
from tracker.indicators.models import CountyFlag
from tracker.plans.models import Measure
from tracker.supervision import accountability as acc_ops
from tracker.supervision import archive
from tracker.supervision import flags as flag_store
from tracker.supervision import operations as ops
from tracker.supervision.models import Interview, RectificationItem
from tracker.units.models import Unit

supervision_cli = click.Group("supervision", help=_l("督办问责：标记、约谈、整改、问责、督办档案"))
interview_cli = click.Group("interview", help=_l("约谈"))
supervision_cli.add_command(interview_cli)


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(_("找不到用户“%(username)s”", username=username))
    return user


def _unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise UserError(_("找不到单位代码“%(code)s”（见 flask --app wsgi units list）", code=code))
    return unit


def _interview(interview_id: int) -> Interview:
    interview = db.session.get(Interview, interview_id)
    if interview is None:
        raise UserError(_("找不到约谈 %(id)s", id=interview_id))
    return interview


def _date(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(_("%(label)s“%(text)s”无法识别，应为 YYYY-MM-DD", label=label, text=text)) from None


@supervision_cli.command("flags")
@click.option("--refresh", is_flag=True, help=_l("先按当前数据重新计算标记"))
@click.option("--kind", type=click.Choice(list(flag_store.KIND_LABELS)), help=_l("只列出一种标记"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def flags_command(refresh, kind, as_json) -> None:
    """列出待跟进的标记（逾期、滑坡、目标节点、整改逾期）。"""
    counts = None
    if refresh:
        with unit_of_work():
            counts = flag_store.refresh(today())
    rows = [flag_store.flag_row(f) for f in flag_store.open_flags(kind)]
    data = {"refreshed": counts, "flags": rows} if refresh else rows
    emit(data, as_json, "\n".join(f"{r['id']}\t{r['unit_code']}\t{r['unit_name']}\t{r['kind_label']}\t{r['year']}\t"
                                  + _("；").join(r["reasons"][:2]) for r in rows) or _("（无待跟进标记）"))


@interview_cli.command("open")
@click.argument("unit_code")
@click.option("--at", "at", required=True, help=_l("约谈时间，如 2026-12-01T10:00（北京时间）"))
@click.option("--place", required=True, help=_l("约谈地点"))
@click.option("--by", "username", required=True, help=_l("以哪个督学的身份操作"))
@click.option("--flag", "flag_id", type=int, help=_l("从哪个标记发起"))
@click.option("--attendees", default="", help=_l("约谈人"))
@click.option("--interviewees", default="", help=_l("被约谈人"))
@click.option("--reason", "reasons", multiple=True, help=_l("其他事由（可多次）"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def open_command(unit_code, at, place, username, flag_id, attendees, interviewees, reasons, as_json) -> None:
    """发起约谈：事由自动列出该单位的逾期任务和未达标指标。"""
    try:
        when = parse_instant(at)
    except ValueError:
        raise UserError(_("约谈时间“%(at)s”无法识别，应为 2026-12-01T10:00", at=at)) from None
    with unit_of_work():
        flag = None
        if flag_id is not None:
            flag = db.session.get(CountyFlag, flag_id)
            if flag is None:
                raise UserError(_("找不到标记 %(id)s", id=flag_id))
        interview = ops.open_interview(_user(username), _unit(unit_code), scheduled_at=when, place=place, attendees=attendees,
                                       interviewees=interviewees, flag=flag, extra="\n".join(reasons))
        row = ops.interview_row(interview)
    emit(row, as_json, _("已发起约谈 #%(id)s：%(unit)s，%(num)s 条事由", id=row["id"], unit=row["unit_name"],
                         num=len(row["reasons"])))


@interview_cli.command("hold")
@click.argument("interview_id", type=int)
@click.option("--minutes", required=True, help=_l("约谈记录"))
@click.option("--outcome", required=True, help=_l("约谈结果"))
@click.option("--by", "username", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def hold_command(interview_id, minutes, outcome, username, as_json) -> None:
    """记录约谈已举行（记录、结果）。"""
    _move_interview(interview_id, as_json,
                    lambda iv: ops.hold_interview(iv, _user(username), minutes=minutes, outcome=outcome))


def _move_interview(interview_id: int, as_json: bool, step) -> None:
    """Apply one step (hold, close, cancel) to an interview in one transaction and report its new status."""
    with unit_of_work():
        row = ops.interview_row(step(_interview(interview_id)))
    emit(row, as_json, _("约谈 #%(id)s：%(status)s", id=interview_id, status=row["status_label"]))


@interview_cli.command("close")
@click.argument("interview_id", type=int)
@click.option("--by", "username", required=True)
@click.option("--comment", default="")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def close_command(interview_id, username, comment, as_json) -> None:
    """结束约谈（整改任务均已办结或撤销）。"""
    _move_interview(interview_id, as_json, lambda iv: ops.close_interview(iv, _user(username), comment=comment))


@interview_cli.command("cancel")
@click.argument("interview_id", type=int)
@click.option("--by", "username", required=True)
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def cancel_command(interview_id, username, reason, as_json) -> None:
    """取消约谈。"""
    _move_interview(interview_id, as_json, lambda iv: ops.cancel_interview(iv, _user(username), reason=reason))


@interview_cli.command("show")
@click.argument("interview_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def show_command(interview_id, as_json) -> None:
    """约谈详情：事由、记录、整改清单。"""
    row = ops.interview_row(_interview(interview_id))
    emit(row, as_json, "\n".join([_("约谈 #%(id)s %(unit)s %(status)s", id=row["id"], unit=row["unit_name"],
                                     status=row["status_label"]), *row["reasons"]]))


@supervision_cli.command("rectify")
@click.argument("interview_id", type=int)
@click.option("--item", "text", required=True, help=_l("整改事项"))
@click.option("--unit", "unit_code", required=True, help=_l("责任单位代码"))
@click.option("--deadline", required=True, help=_l("整改期限 YYYY-MM-DD"))
@click.option("--measure", "measure_number", help=_l("关联措施编号（如 三）；默认取约谈事由中第一项逾期任务的措施"))
@click.option("--by", "username", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def rectify_command(interview_id, text, unit_code, deadline, measure_number, username, as_json) -> None:
    """下达整改事项：生成责任单位的整改任务。"""
    with unit_of_work():
        interview = _interview(interview_id)
        measure = None
        if measure_number:
            reason_measures = [r["measure_id"] for r in interview.reasons or [] if r.get("measure_id")]
            plan_ids = set(db.session.scalars(select(Measure.plan_id).where(Measure.id.in_(reason_measures))))
            candidates = db.session.scalars(select(Measure).where(Measure.number == measure_number).order_by(Measure.plan_id)).all()
            measure = next((m for m in candidates if m.plan_id in plan_ids), None) or (candidates[0] if candidates else None)
            if measure is None:
                raise UserError(_("找不到措施“%(number)s”", number=measure_number))
        item = ops.add_item(interview, _user(username), text=text, unit=_unit(unit_code),
                            deadline=_date(deadline, _("整改期限")), measure=measure)
        row = ops.item_row(item)
    emit(row, as_json, _("已下达整改事项 #%(id)s，整改任务 %(task)s", id=row["id"], task=row["task_id"]))


@supervision_cli.command("accountability")
@click.argument("item_id", type=int)
@click.option("--type", "kind", required=True, help=_l("问责方式：通报批评/约谈问责/诫勉谈话/组织处理/其他"))
@click.option("--doc", "doc_number", required=True, help=_l("问责文号"))
@click.option("--date", "decided", required=True, help=_l("决定日期 YYYY-MM-DD"))
@click.option("--note", default="")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=_l("问责决定文件"))
@click.option("--by", "username", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def accountability_command(item_id, kind, doc_number, decided, note, path, username, as_json) -> None:
    """对逾期未完成的整改事项记录问责决定。"""
    with unit_of_work():
        item = db.session.get(RectificationItem, item_id)
        if item is None:
            raise UserError(_("找不到整改事项 %(id)s", id=item_id))
        kwargs = {}
        if path is not None:
            kwargs = {"stream": path.open("rb"), "filename": path.name}
        try:
            record = acc_ops.record_accountability(item, _user(username), type=kind, doc_number=doc_number,
                                               decided_on=_date(decided, _("决定日期")), note=note, **kwargs)
        finally:
            if kwargs:
                kwargs["stream"].close()
        row = acc_ops.record_row(record)
    emit(row, as_json, _("已记录问责 #%(id)s：%(type)s（%(doc)s）", id=row["id"], type=row["type_label"], doc=row["doc_number"]))


@supervision_cli.command("archive")
@click.argument("unit_code")
@click.option("--xlsx", "out", type=click.Path(dir_okay=False, path_type=Path), help=_l("另存为 Excel 文件"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def archive_command(unit_code, out, as_json) -> None:
    """单位督办档案：提醒、督办、批示、约谈、整改、问责，按时间排列。"""
    unit = _unit(unit_code)
    events = archive.unit_file(unit)
    if out is not None:
        out.write_bytes(archive.workbook(unit, events))
    rows = [e.as_dict() for e in events]
    emit({"unit_code": unit.code, "unit_name": unit.name, "events": rows}, as_json,
         "\n".join(f"{r['at']}\t{r['kind_label']}\t{r['title']}" for r in rows) or _("（无记录）"))
