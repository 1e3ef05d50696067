"""优质均衡督办 — the Flask application: factory and registration of its parts."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from tracker import settings
from tracker.extensions import csrf, db, login_manager, migrate


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app. Never creates tables, seeds data or starts the scheduler."""
    root = Path(__file__).resolve().parent.parent
    app = Flask(
        __name__,
        instance_path=os.environ.get("TRACKER_INSTANCE", str(root / "instance")),
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    app.config.from_object(settings.Config)
    app.config.update(settings.from_env())
    if overrides:
        app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(app.instance_path) / "tracker.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = settings.normalise_db_url(app.config["SQLALCHEMY_DATABASE_URI"])
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_template_helpers(app)
    return app


def _instance_secret(instance: Path) -> str:
    """The session-signing secret lives in instance/ (never committed), made on first run."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def register_extensions(app: Flask) -> None:
    from tracker import clock

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    clock.init_app(app)
    import tracker.models  # noqa: F401  (every model registered on the metadata)


def register_blueprints(app: Flask) -> None:
    from tracker.admin.views import bp as admin_bp
    from tracker.api import bp as api_bp  # also registers the account pages (tokens, password)
    from tracker.auth.views import bp as auth_bp
    from tracker.dashboard.views import bp as dashboard_bp
    from tracker.indicators.views import bp as indicators_bp
    from tracker.plans.views import bp as plans_bp
    from tracker.tasks.views import bp as tasks_bp

    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(indicators_bp)
    app.register_blueprint(plans_bp)
    app.register_blueprint(tasks_bp)
    from tracker.notices.views import bp as notices_bp
    app.register_blueprint(notices_bp)
    from tracker.supervision.views import bp as supervision_bp
    app.register_blueprint(supervision_bp)


def register_cli(app: Flask) -> None:
    from tracker.auth.cli import user_cli
    from tracker.demo.cli import demo_cli
    from tracker.indicators.cli import register_cli as register_indicator_cli
    from tracker.plans.cli import plan_cli
    from tracker.tasks.cli import task_cli, tasks_cli
    from tracker.units.cli import units_cli

    for group in (plan_cli, tasks_cli, task_cli, user_cli, units_cli, demo_cli):
        app.cli.add_command(group)
    register_indicator_cli(app)
    from tracker.scheduler.cli import scheduler_cli
    app.cli.add_command(scheduler_cli)
    from tracker.supervision.cli import supervision_cli
    app.cli.add_command(supervision_cli)


def register_template_helpers(app: Flask) -> None:
    from tracker import errorpages, i18n, security, ui

    i18n.init_app(app)
    ui.init_app(app)
    errorpages.init_app(app)
    security.init_app(app)
