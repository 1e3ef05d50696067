"""Indicator commands: `schools import|template`, `evaluate`, `indicators entry|load-catalog`, `demo schools`.

Each runs in one transaction (commit once at the end); errors are printed in Chinese with exit status 1.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask.cli import with_appcontext

from tracker.cli_utils import UserError, emit, unit_of_work
from tracker.extensions import db
from tracker.indicators import operations as ops
from tracker.indicators import store
from tracker.indicators.schooldata import COLUMNS, SchoolDataInvalid, template_workbook

schools_cli = click.Group("schools", help=_l("学校数据：导入与导入模板"))
indicators_cli = click.Group("indicators", help=_l("指标：县级指标填报、指标目录"))


@schools_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--year", help=_l("数据年度（四位数字，须与文件“年度”列一致）"))
@click.option("--evaluate", "evaluate_after", is_flag=True, help=_l("导入后重新评估涉及的县市"))
@click.option("--json", "as_json", is_flag=True, help=_l("以 JSON 输出结果"))
@with_appcontext
def import_command(path: str, year: str | None, evaluate_after: bool, as_json: bool) -> None:
    """导入学校年度数据（.xlsx 或 .csv）；有任何错误则全部不导入。"""
    with unit_of_work():
        file = Path(path)
        if not file.is_file():
            raise UserError(_("找不到文件 %(path)s", path=path))
        try:
            result = ops.import_schools(file.read_bytes(), file.name, year, None, evaluate_after=evaluate_after)
        except SchoolDataInvalid as exc:
            db.session.rollback()
            if as_json:
                emit({"errors": exc.to_list()}, True)
            for problem in exc.problems:
                click.echo(_("错误：%(problem)s", problem=problem), err=True)
            click.echo(ngettext("共 %(num)d 处错误，未导入任何数据。", "共 %(num)d 处错误，未导入任何数据。",
                                len(exc.problems)), err=True)
            sys.exit(1)
    counties = _("、").join(_("%(name)s（%(num)d 所）", name=c["name"], num=c["schools"]) for c in result["counties"])
    emit(result, as_json, _("已导入 %(year)s 年学校数据 %(rows)d 行（新登记学校 %(new)d 所）：%(counties)s",
                            year=result["year"], rows=result["rows"], new=result["new_schools"], counties=counties))


@schools_cli.command("template")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def template_command(path: str, as_json: bool) -> None:
    """写出学校数据导入模板（.xlsx：列名与一行示例）。"""
    if not path.lower().endswith(".xlsx"):
        click.echo(_("错误：模板文件名应以 .xlsx 结尾"), err=True)
        sys.exit(1)
    from tracker.clock import today

    Path(path).write_bytes(template_workbook(today().year))
    emit({"file": path, "columns": [c.header for c in COLUMNS]}, as_json, _("已写出导入模板 %(path)s", path=path))


@click.command("evaluate")
@click.argument("county", required=False)
@click.option("--year", required=True, type=int, help=_l("评估年度"))
@click.option("--all", "all_counties", is_flag=True, help=_l("评估该年度有学校数据的全部县市（集合式，一次完成）"))
@click.option("--json", "as_json", is_flag=True, help=_l("输出评估引擎的 JSON 结果"))
@with_appcontext
def evaluate_command(county: str | None, year: int, all_counties: bool, as_json: bool) -> None:
    """评估一个县市某年度（县市代码或名称），或用 --all 评估全部县市；保存结果并据此通知、重开关联任务。"""
    if all_counties == bool(county):
        click.echo(_("错误：请指定一个县市，或使用 --all 评估全部县市（二者选一）。"), err=True)
        sys.exit(1)
    if all_counties:
        with unit_of_work():
            summary = ops.evaluate_all(year)
        lines = [_("%(year)s年评估完成：%(counties)s 个县市，达标 %(passed)s 个；可以办结通知 %(ready)s 条措施，"
                   "重新打开任务 %(reopened)s 项，滑坡标记 %(flags)s 个。", year=summary["year"],
                   counties=summary["counties"], passed=summary["passed"], ready=summary["ready"],
                   reopened=len(summary["reopened"]), flags=len(summary["flags"]))]
        lines += ["  " + _("无法评估：%(error)s", error=e["error"]) for e in summary["errors"]]
        emit(summary, as_json, "\n".join(lines))
        return
    with unit_of_work():
        unit = ops.find_county(county)
        row = ops.evaluate(unit, year)
        result, effects = row.result, row.effects
    if as_json:
        emit(result, True)
        return
    verdict = _("达标") if result["pass"] else (_("未达标") if result["assessable"] else _("待补数据（部分县级指标未填报）"))
    lines = [_("%(county)s %(year)s年评估：%(verdict)s", county=unit.name, year=year, verdict=verdict)]
    for aspect, label in store.ASPECT_LABELS.items():
        value = result["aspects"][aspect]["pass"]
        lines.append("  " + _("%(label)s：%(verdict)s", label=label,
                              verdict=_("达标") if value else (_("未达标") if value is False else _("待填报"))))
    if effects["ready"]:
        measures = _("、").join(_("（%(measure)s）", measure=r["measure"]) for r in effects["ready"])
        lines.append("  " + _("可以办结：%(measures)s", measures=measures))
    if effects["reopened"]:
        lines.append("  " + _("指标滑坡，重新打开任务：%(tasks)s", tasks=", ".join(map(str, effects["reopened"]))))
    if effects["flag"]:
        lines.append("  " + _("已标记滑坡，通知督学"))
    click.echo("\n".join(lines))


@indicators_cli.command("entry")
@click.argument("county")
@click.option("--year", required=True, type=int)
@click.option("--code", required=True, help=_l("指标代码，如 G8"))
@click.option("--value", required=True, help=_l("数值；是/否项填 是 或 否；G13 写 小学=100,初中=95"))
@click.option("--note", default="", help=_l("说明"))
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False), help=_l("佐证材料（可多次）"))
@click.option("--no-evaluate", is_flag=True, help=_l("只保存，不重新评估"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def entry_command(county: str, year: int, code: str, value: str, note: str, files: tuple[str, ...],
                  no_evaluate: bool, as_json: bool) -> None:
    """填报县级指标（政府保障、教育质量、社会认可度、一票否决）。"""
    with unit_of_work():
        unit = ops.find_county(county)
        handles = [open(f, "rb") for f in files]  # noqa: SIM115 — closed below
        try:
            done = ops.set_entry(unit, year, code, value, note, None, [(h, Path(h.name).name) for h in handles],
                                 evaluate_after=not no_evaluate)
        finally:
            for h in handles:
                h.close()
        entry, evaluation = done["entry"], done["evaluation"]
        out = {"county": unit.name, "year": entry.year, "code": entry.code, "value": entry.value, "note": entry.note,
               "files": [f.filename for f in entry.files],
               "evaluation": None if evaluation is None else {"pass": evaluation.passed,
                                                              "assessable": evaluation.assessable}}
    text = _("已填报 %(county)s %(year)s年 %(code)s = %(value)s", county=unit.name, year=year, code=out["code"],
             value=out["value"])
    if evaluation is not None:
        text += _("；重新评估：%(verdict)s", verdict=_("达标") if evaluation.passed else _("未达标"))
    emit(out, as_json, text)


@indicators_cli.command("load-catalog")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), help=_l("默认 data/indicators.yaml"))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def load_catalog_command(path: str | None, as_json: bool) -> None:
    """把指标目录文件载入数据库（覆盖管理员在页面上的修改）。"""
    with unit_of_work():
        result = store.load_catalog_into_db(path)
    emit(result, as_json, _("已载入 %(num)d 项指标（修订号 %(revision)s）；待核实：%(uncertain)s",
                            num=result["indicators"], revision=result["revision"],
                            uncertain=_("、").join(result["uncertain"])))


@click.command("schools")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def demo_schools_command(as_json: bool) -> None:
    """生成并导入楚雄州10个县市2024、2025年的示例学校数据（示例数据），填报县级指标并评估。"""
    from tracker.indicators import demo

    with unit_of_work():
        result = demo.run(Path(current_app.instance_path) / "demo")
    lines = [_("示例数据（非真实数据）已导入并评估：")]
    for c in result["counties"]:
        lines.append(f"  {c['county']:<4} "
                     + "  ".join(_("%(year)s：%(verdict)s", year=y, verdict=_("达标") if v else _("未达标"))
                                 for y, v in c["pass"].items())
                     + ("  ← " + _("滑坡") if c["slipped"] else ""))
    emit(result, as_json, "\n".join(lines))


def register_cli(app) -> None:
    """Add the indicator commands to `flask`, and `schools` to the `demo` group."""
    from tracker.demo.cli import demo_cli

    for command in (schools_cli, evaluate_command, indicators_cli):
        app.cli.add_command(command)
    demo_cli.add_command(demo_schools_command)
