"""`flask plan import FILE` and `flask plan export PLAN_ID FILE` for admins and scripts."""
from __future__ import annotations

import click
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask.cli import with_appcontext

from tracker.cli_utils import UserError, emit, unit_of_work
from tracker.extensions import db
from tracker.plans.models import Plan
from tracker.plans.operations import export_spec, import_plan, known_unit_specs
from tracker.plans.planfile import read_plan_file, write_plan_file

plan_cli = click.Group("plan", help=_l("实施方案：导入与导出"))


@plan_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help=_l("以 JSON 输出结果"))
@with_appcontext
def import_command(path: str, as_json: bool) -> None:
    """导入方案文件（.yaml 或 .xlsx 任务分解表）；重复导入会就地更新。"""
    with unit_of_work():
        spec = read_plan_file(path, known_units=known_unit_specs())
        result = import_plan(spec, source=path)
    emit(result, as_json, _("已导入方案 %(plan)s：%(sections)d 个部分，%(measures)d 条措施，%(units)d 个责任单位，"
                            "%(tasks)d 项任务（新建 %(created)d，更新 %(updated)d，撤销 %(removed)d）。", **result))


def find_plan(ident: str) -> Plan:
    plan = db.session.get(Plan, int(ident)) if ident.isdigit() else None
    plan = plan or db.session.query(Plan).filter_by(code=ident).one_or_none()
    if plan is None:
        raise UserError(_("找不到方案“%(ident)s”（可用编号或方案代码）", ident=ident))
    return plan


@plan_cli.command("export")
@click.argument("plan_id")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def export_command(plan_id: str, path: str, as_json: bool) -> None:
    """导出方案为 .xlsx 任务分解表（或 .yaml 方案文件）。"""
    with unit_of_work():
        plan = find_plan(plan_id)
        spec = export_spec(plan)
        write_plan_file(spec, path)
    emit({"plan": spec.code, "file": path, "measures": len(spec.measures)}, as_json, _("已导出到 %(path)s", path=path))


@plan_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    """列出已导入的方案。"""
    rows = [{"id": p.id, "code": p.code, "title": p.title, "issued_on": p.issued_on} for p in db.session.query(Plan).order_by(Plan.id)]
    emit(rows, as_json, "\n".join(f"{r['id']}\t{r['code']}\t{r['title']}" for r in rows) or _("（无方案）"))
