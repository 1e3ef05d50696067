"""`flask units list`."""
from __future__ import annotations

import click
from flask_babel import lazy_gettext as _l
from flask.cli import with_appcontext
from sqlalchemy import select

from tracker.cli_utils import emit
from tracker.extensions import db
from tracker.units.models import Unit


@click.group("units", help=_l("责任单位"))
def units_cli() -> None:
    pass


@units_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    """列出责任单位（部门与县市）。"""
    rows = [{"id": u.id, "code": u.code, "name": u.name, "kind": u.kind_value, "aliases": u.aliases or []}
            for u in db.session.scalars(select(Unit).order_by(Unit.kind, Unit.code))]
    emit(rows, as_json, "\n".join(f"{r['code']}\t{r['name']}\t{r['kind']}" for r in rows))
