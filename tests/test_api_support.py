"""Shared helpers for the API tests (no tests here): tokens, an authenticated caller, quick data."""
from __future__ import annotations

from sqlalchemy import func, select

from tracker.extensions import db as _db
from tracker.indicators.schooldata import write_rows_xlsx

API = "/api/v1"


def token_for(user, name: str = "测试", days: int = 30) -> str:
    from tracker.api.auth import create_token

    _row, secret = create_token(user, name, days)
    _db.session.commit()
    return secret


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {token_for(user)}"}


class Caller:
    """A client speaking as one token: caller.get("/tasks") → GET /api/v1/tasks with the Bearer header."""

    def __init__(self, client, user):
        self.client, self.user = client, user
        self.headers = bearer(user)

    def _open(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.open(API + path, method=method, headers=headers, **kw)

    def get(self, path, **kw):
        return self._open("GET", path, **kw)

    def post(self, path, **kw):
        return self._open("POST", path, **kw)


def caller_factory(client, make_user):
    """For an `as_user` fixture: as_user("lufeng", "unit", "532302") → a Caller for a new user of that role."""
    def make(username: str, role: str, unit_code: str | None = None) -> Caller:
        return Caller(client, make_user(username, role, unit_code))

    return make


def error_of(response) -> dict:
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)[:300]
    err = body["error"]
    assert set(err) == {"status", "code", "message", "details"}, err
    assert err["status"] == response.status_code and err["message"], err
    return err


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def school_row(code: str, county: str = "楚雄市", primary: int = 500, year: int = 2025, **over) -> dict:
    """A primary school row meeting every threshold comfortably."""
    row = {"year": year, "code": code, "name": f"测试学校{code}", "county": county, "school_type": "小学",
           "primary_pupils": primary, "junior_pupils": 0, "senior_pupils": None,
           "qualified_teachers": round(primary * 0.06), "backbone_teachers": round(primary * 0.012),
           "pe_art_teachers": round(primary * 0.01), "building_area": primary * 6.0, "sports_area": primary * 11.0,
           "equipment_value": primary * 3000, "multimedia_rooms": round(primary * 0.025),
           "class_count": max(1, primary // 40), "max_class_size": 40, "max_class_size_primary": None,
           "max_class_size_junior": None}
    row.update(over)
    return row


def school_xlsx(rows: list[dict]) -> bytes:
    return write_rows_xlsx(rows)
