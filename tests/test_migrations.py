"""The migrations are the schema: after upgrading, the models and the database agree exactly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tracker.extensions import db as _db


def test_models_match_migrations(app, db):
    with _db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, _db.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_single_linear_history(app):
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()} — run `flask db merge heads`"
