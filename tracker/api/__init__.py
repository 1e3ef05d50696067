"""The JSON API at /api/v1: the same services as the pages, authenticated by personal Bearer tokens.

Registered with one line in the app factory (``app.register_blueprint(api_bp)``); registering it
also registers the account pages (token management, password change), exempts the API — and only
the API — from CSRF (it never accepts a session cookie, so there is nothing to forge), and answers
unknown /api/v1/* paths and wrong methods in JSON.

Modules: errors (the JSON error shape), auth (tokens), openapi (endpoint registry → OpenAPI
document), validate (input checks), serialize (JSON shapes), and one module per area.
"""
from __future__ import annotations

from flask import Blueprint, request

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)


def _setup(state) -> None:
    from tracker.api.account import bp as account_bp
    from tracker.api.errors import from_exception, is_api_path
    from tracker.extensions import csrf

    app = state.app
    csrf.exempt(bp)
    app.register_blueprint(account_bp)

    @app.before_request
    def api_routing_errors():
        """An unknown /api/v1/* path (404) or a wrong method (405) answers in JSON, not the HTML page."""
        exc = request.routing_exception
        if exc is not None and is_api_path() and getattr(exc, "code", 0) >= 400:
            return from_exception(exc)
        return None


bp.record_once(_setup)

from tracker.api import errors as _errors

_errors.init_blueprint(bp)

# the areas: importing them declares their endpoints on `bp` and in the OpenAPI registry
from tracker.api import indicators, meta, notices, plans, tasks  # noqa: F401
