"""Security headers on every response, and sign-in throttling shared by all workers through the database."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from sqlalchemy import delete, func, select

from tracker.admin.models import LoginAttempt
from tracker.clock import utcnow
from tracker.extensions import db

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
WINDOW = timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 20


def init_app(app: Flask) -> None:
    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


def throttled(username: str, address: str) -> bool:
    """Too many recent failures for this account or from this address."""
    since = utcnow() - WINDOW
    per_account = db.session.scalar(select(func.count()).select_from(LoginAttempt)
                                    .where(LoginAttempt.username == username, LoginAttempt.at >= since))
    per_address = db.session.scalar(select(func.count()).select_from(LoginAttempt)
                                    .where(LoginAttempt.address == address, LoginAttempt.at >= since))
    return per_account >= MAX_PER_ACCOUNT or per_address >= MAX_PER_ADDRESS


def record_failure(username: str, address: str) -> None:
    db.session.add(LoginAttempt(username=username[:64], address=address, at=utcnow()))
    db.session.commit()


def clear_failures(username: str) -> None:
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
