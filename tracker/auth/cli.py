"""`flask user add USERNAME --role ROLE [--unit CODE]`: the password comes from stdin or a prompt."""
from __future__ import annotations

import sys

import click
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask.cli import with_appcontext

from tracker.auth.operations import create_user
from tracker.cli_utils import emit, unit_of_work

user_cli = click.Group("user", help=_l("用户管理"))


@user_cli.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "leadership", "supervisor", "unit"]))
@click.option("--unit", "unit_code", help=_l("责任单位代码（role=unit 时必填）"))
@click.option("--name", "display_name", default="", help=_l("姓名"))
@click.option("--email", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def add_command(username, role, unit_code, display_name, email, as_json) -> None:
    """新建用户。密码从标准输入读取（或交互输入），不经命令行参数传递。"""
    if sys.stdin.isatty():
        password = click.prompt(_("密码"), hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with unit_of_work():
        user = create_user(username, password, role, unit_code=unit_code, display_name=display_name, email=email)
    emit({"id": user.id, "username": user.username, "role": role, "unit": unit_code}, as_json,
         _("已创建用户 %(username)s（%(role)s）", username=username, role=user.role_label))
