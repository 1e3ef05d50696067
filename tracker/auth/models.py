"""The User model and its roles."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.extensions import db
from tracker.units.models import Unit


class Role(str, enum.Enum):
    admin = "admin"
    leadership = "leadership"
    supervisor = "supervisor"
    unit = "unit"
    system = "system"


ROLE_LABELS = {
    "admin": _l("系统管理员"),
    "leadership": _l("领导小组"),
    "supervisor": _l("督学"),
    "unit": _l("责任单位经办人"),
    "system": _l("系统"),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), nullable=False)
    #: set only for role 'unit': the one unit whose tasks this user handles
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: chosen display language ('zh' or 'en'); None follows the browser's cookie, then Chinese
    locale: Mapped[str | None] = mapped_column(String(8))

    unit: Mapped[Unit | None] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS[self.role.value])

    def has_role(self, *roles: str) -> bool:
        return self.role.value in roles
