"""The Unit model: a department (部门) or a county-level government (县市)."""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db


class UnitKind(str, enum.Enum):
    department = "department"
    county = "county"


UNIT_KIND_LABELS = {"department": _l("部门"), "county": _l("县市")}


class Unit(db.Model):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: administrative division code for counties (532301), short stable code for departments
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(Enum(UnitKind, native_enum=False, values_callable=lambda e: [m.value for m in e], length=16), nullable=False, index=True)
    #: former or informal names that resolve to this unit (禄丰县 → 禄丰市)
    aliases: Mapped[list] = mapped_column(JSON, nullable=False, default=list)

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"

    @property
    def kind_label(self) -> str:
        return str(UNIT_KIND_LABELS[self.kind_value])

    @property
    def kind_value(self) -> str:
        return self.kind.value if isinstance(self.kind, UnitKind) else self.kind
