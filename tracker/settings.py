"""Configuration: defaults here, overrides from the environment, tests pass their own to the factory."""
from __future__ import annotations

import os


class Config:
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    #: evidence files live outside the web root, under instance/evidence
    EVIDENCE_MAX_BYTES = 50 * 1024 * 1024
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024
    TIMEZONE = "Asia/Shanghai"
    #: a fixed instant ("2026-03-01T09:00") freezes the clock for demos; empty = real time
    CLOCK_NOW = ""
    BASE_URL = "http://127.0.0.1:5000"


def from_env() -> dict:
    """Settings read from the environment; only the ones that are set."""
    out: dict = {}
    mapping = {
        "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
        "SECRET_KEY": "SECRET_KEY",
        "TRACKER_CLOCK_NOW": "CLOCK_NOW",
        "TRACKER_BASE_URL": "BASE_URL",
    }
    for env, key in mapping.items():
        if os.environ.get(env):
            out[key] = os.environ[env]
    if os.environ.get("TRACKER_SECURE_COOKIES", "").lower() in ("1", "true", "yes"):
        # behind TLS: cookies only over https
        out["SESSION_COOKIE_SECURE"] = out["REMEMBER_COOKIE_SECURE"] = True
    if os.environ.get("EVIDENCE_MAX_MB"):
        out["EVIDENCE_MAX_BYTES"] = int(float(os.environ["EVIDENCE_MAX_MB"]) * 1024 * 1024)
    return out


def normalise_db_url(url: str) -> str:
    """Accept plain postgres:// URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
