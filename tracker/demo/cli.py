"""`flask demo setup`: load the Chuxiong plan and make one demo account per role and unit."""
from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask.cli import with_appcontext
from sqlalchemy import select

from tracker.auth.models import Role, User
from tracker.cli_utils import emit, unit_of_work
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.plans.operations import import_plan
from tracker.plans.planfile import read_plan_file
from tracker.units.models import Unit

demo_cli = click.Group("demo", help=_l("演示数据"))
PLAN_FILE = Path(__file__).resolve().parents[2] / "data" / "plans" / "chuxiong-2023.yaml"
#: demo accounts: (username, role, display name); the names are sample data
OVERSEERS = [("admin", "admin", "系统管理员"), ("lingdao", "leadership", "领导小组"), ("duxue", "supervisor", "州督学")]  # i18n: data


def _set_user(username: str, role: str, name: str, unit: Unit | None) -> str:
    password = secrets.token_urlsafe(9) + "7a"
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, role=Role(role), display_name=name, unit=unit, created_at=utcnow())
        db.session.add(user)
    user.set_password(password)
    return password


@demo_cli.command("setup")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def setup_command(as_json: bool) -> None:
    """导入楚雄州方案并创建演示账号（每次运行重设密码并打印）。"""
    with unit_of_work():
        result = import_plan(read_plan_file(PLAN_FILE), source=PLAN_FILE.name)
        accounts = [{"username": u, "role": r, "unit": "", "password": _set_user(u, r, n, None)} for u, r, n in OVERSEERS]
        for unit in db.session.scalars(select(Unit).order_by(Unit.kind, Unit.code)):
            username = f"u{unit.code}".lower()
            accounts.append({"username": username, "role": "unit", "unit": unit.name,
                             "password": _set_user(username, "unit", f"{unit.name}经办人", unit)})  # i18n: data
    lines = [f"{a['username']:<12} {a['password']:<16} {a['role']:<11} {a['unit']}" for a in accounts]
    listing = "\n".join([_("用户名        密码             角色        单位"), *lines])
    (Path(current_app.instance_path) / "demo-accounts.txt").write_text(listing + "\n", encoding="utf-8")
    emit({"plan": result, "accounts": accounts}, as_json,
         _("已导入方案：%(measures)d 条措施，%(tasks)d 项任务。\n演示账号（亦保存在 instance/demo-accounts.txt）：\n%(listing)s",
           measures=result["measures"], tasks=result["tasks"], listing=listing))


@demo_cli.command("generate")
@click.option("--counties", default=2900, show_default=True)
@click.option("--schools", default=200_000, show_default=True)
@click.option("--years", default=3, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def generate_command(counties, schools, years, seed, as_json) -> None:
    """生成全国规模的示例数据集（确定性、批量写入）：每县一个方案，约 240 项任务/县。"""
    import time

    from tracker.clock import today
    from tracker.demo.generate import Sizes, generate

    started = time.perf_counter()
    with unit_of_work():
        result = generate(Sizes(counties=counties, schools=schools, years=years, seed=seed), today(),
                          progress=lambda msg: click.echo(f"  {msg}", err=True))
    result["seconds"] = round(time.perf_counter() - started, 1)
    emit(result, as_json, _("已生成：%(result)s", result=result))
