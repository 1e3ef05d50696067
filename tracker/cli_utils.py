"""Shared CLI glue: JSON output, clear errors with a non-zero exit, one commit per command."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import date, datetime

import click
from flask_babel import gettext as _

from tracker.extensions import db


def _default(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit(data, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_default))
    else:
        click.echo(text if text is not None else json.dumps(data, ensure_ascii=False, default=_default))


class UserError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 1."""


@contextmanager
def unit_of_work():
    """Commit once if the body succeeds; roll back and exit 1 with the message if it fails."""
    try:
        yield
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 — every failure must leave the database untouched
        db.session.rollback()
        from sqlalchemy.orm.exc import StaleDataError

        if isinstance(exc, StaleDataError):
            from tracker.errors import STALE_MESSAGE

            click.echo(_("错误：%(message)s", message=STALE_MESSAGE), err=True)
            sys.exit(1)
        from tracker.errors import ServiceError
        from workflows import WorkflowError

        if isinstance(exc, (UserError, ValueError, LookupError, PermissionError, ServiceError, WorkflowError)) or hasattr(exc, "problems"):
            click.echo(_("错误：%(message)s", message=exc), err=True)
            sys.exit(1)
        raise
