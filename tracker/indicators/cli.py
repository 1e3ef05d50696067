"""Indicator commands: `schools import|template`, `evaluate`, `indicators entry|load-catalog`, `demo schools`.

Each runs in one transaction (commit once at the end); errors are printed in Chinese with exit status 1.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.cli_utils import UserError, emit, unit_of_work
from tracker.extensions import db
from tracker.indicators import operations as ops
from tracker.indicators import store
from tracker.indicators.schooldata import COLUMNS, SchoolDataInvalid, template_workbook

schools_cli = click.Group("schools", help="学校数据：导入与导入模板")
indicators_cli = click.Group("indicators", help="指标：县级指标填报、指标目录")


@schools_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--year", help="数据年度（四位数字，须与文件“年度”列一致）")
@click.option("--evaluate", "evaluate_after", is_flag=True, help="导入后重新评估涉及的县市")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@with_appcontext
def import_command(path: str, year: str | None, evaluate_after: bool, as_json: bool) -> None:
    """导入学校年度数据（.xlsx 或 .csv）；有任何错误则全部不导入。"""
    with unit_of_work():
        file = Path(path)
        if not file.is_file():
            raise UserError(f"找不到文件 {path}")
        try:
            result = ops.import_schools(file.read_bytes(), file.name, year, None, evaluate_after=evaluate_after)
        except SchoolDataInvalid as exc:
            db.session.rollback()
            if as_json:
                emit({"errors": exc.to_list()}, True)
            for problem in exc.problems:
                click.echo(f"错误：{problem}", err=True)
            click.echo(f"共 {len(exc.problems)} 处错误，未导入任何数据。", err=True)
            sys.exit(1)
    counties = "、".join(f"{c['name']}（{c['schools']} 所）" for c in result["counties"])
    emit(result, as_json,
         f"已导入 {result['year']} 年学校数据 {result['rows']} 行（新登记学校 {result['new_schools']} 所）：{counties}")


@schools_cli.command("template")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def template_command(path: str, as_json: bool) -> None:
    """写出学校数据导入模板（.xlsx：列名与一行示例）。"""
    if not path.lower().endswith(".xlsx"):
        click.echo("错误：模板文件名应以 .xlsx 结尾", err=True)
        sys.exit(1)
    from tracker.clock import today

    Path(path).write_bytes(template_workbook(today().year))
    emit({"file": path, "columns": [c.header for c in COLUMNS]}, as_json, f"已写出导入模板 {path}")


@click.command("evaluate")
@click.argument("county")
@click.option("--year", required=True, type=int, help="评估年度")
@click.option("--json", "as_json", is_flag=True, help="输出评估引擎的 JSON 结果")
@with_appcontext
def evaluate_command(county: str, year: int, as_json: bool) -> None:
    """评估一个县市某年度（县市代码或名称），保存结果并据此通知、重开关联任务。"""
    with unit_of_work():
        unit = ops.find_county(county)
        row = ops.evaluate(unit, year)
        result, effects = row.result, row.effects
    if as_json:
        emit(result, True)
        return
    verdict = "达标" if result["pass"] else ("未达标" if result["assessable"] else "待补数据（部分县级指标未填报）")
    lines = [f"{unit.name} {year}年评估：{verdict}"]
    for aspect, label in store.ASPECT_LABELS.items():
        value = result["aspects"][aspect]["pass"]
        lines.append(f"  {label}：{'达标' if value else ('未达标' if value is False else '待填报')}")
    if effects["ready"]:
        lines.append(f"  可以办结：{'、'.join('（' + r['measure'] + '）' for r in effects['ready'])}")
    if effects["reopened"]:
        lines.append(f"  指标滑坡，重新打开任务：{', '.join(map(str, effects['reopened']))}")
    if effects["flag"]:
        lines.append("  已标记滑坡，通知督学")
    click.echo("\n".join(lines))


@indicators_cli.command("entry")
@click.argument("county")
@click.option("--year", required=True, type=int)
@click.option("--code", required=True, help="指标代码，如 G8")
@click.option("--value", required=True, help="数值；是/否项填 是 或 否；G13 写 小学=100,初中=95")
@click.option("--note", default="", help="说明")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False), help="佐证材料（可多次）")
@click.option("--no-evaluate", is_flag=True, help="只保存，不重新评估")
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
    text = f"已填报 {unit.name} {year}年 {out['code']} = {out['value']}"
    if evaluation is not None:
        text += f"；重新评估：{'达标' if evaluation.passed else '未达标'}"
    emit(out, as_json, text)


@indicators_cli.command("load-catalog")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), help="默认 data/indicators.yaml")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def load_catalog_command(path: str | None, as_json: bool) -> None:
    """把指标目录文件载入数据库（覆盖管理员在页面上的修改）。"""
    with unit_of_work():
        result = store.load_catalog_into_db(path)
    emit(result, as_json, f"已载入 {result['indicators']} 项指标（修订号 {result['revision']}）；"
                          f"待核实：{'、'.join(result['uncertain'])}")


@click.command("schools")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def demo_schools_command(as_json: bool) -> None:
    """生成并导入楚雄州10个县市2024、2025年的示例学校数据（示例数据），填报县级指标并评估。"""
    from tracker.indicators import demo

    with unit_of_work():
        result = demo.run(Path(current_app.instance_path) / "demo")
    lines = ["示例数据（非真实数据）已导入并评估："]
    for c in result["counties"]:
        lines.append(f"  {c['county']:<4} " + "  ".join(f"{y}：{'达标' if v else '未达标'}" for y, v in c["pass"].items())
                     + ("  ← 滑坡" if c["slipped"] else ""))
    emit(result, as_json, "\n".join(lines))


def register_cli(app) -> None:
    """Add the indicator commands to `flask`, and `schools` to the `demo` group."""
    from tracker.demo.cli import demo_cli

    for command in (schools_cli, evaluate_command, indicators_cli):
        app.cli.add_command(command)
    demo_cli.add_command(demo_schools_command)
