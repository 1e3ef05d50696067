"""Who may see and change what: one place for the object-level rules, used by views, API and CLI."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, false

from tracker.tasks.models import Task

OVERSEERS = ("admin", "leadership", "supervisor")


def can_view_task(user, task: Task) -> bool:
    """Overseers see every task; a unit user only its own unit's."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(*OVERSEERS):
        return True
    return user.has_role("unit") and user.unit_id is not None and task.unit_id == user.unit_id


def scope_tasks(stmt: Select, user) -> Select:
    """Restrict a task query to what the user may see (set-based, no per-row check)."""
    if user.has_role(*OVERSEERS):
        return stmt
    if user.has_role("unit") and user.unit_id is not None:
        return stmt.where(Task.unit_id == user.unit_id)
    return stmt.where(false())


def roles_required(*roles: str):
    """View decorator: signed in and holding one of the roles, else 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def task_or_404(task_id: int, user) -> Task:
    """Load a task the user may see; another unit's task answers 404 so its existence is not revealed."""
    from tracker.extensions import db

    task = db.session.get(Task, task_id)
    if task is None or not can_view_task(user, task):
        abort(404)
    return task
