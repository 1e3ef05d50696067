"""Plan, Section, Measure, the measure's responsible units, milestones and county schedule."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.units.models import Unit


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    issuer: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    doc_number: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    issued_on: Mapped[date | None] = mapped_column(Date)
    preamble: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: everything else of the plan file kept verbatim (annexes, unit groups, defaults, notes)
    extra: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)

    sections: Mapped[list[Section]] = relationship(back_populates="plan", order_by="Section.position", cascade="all, delete-orphan")
    milestones: Mapped[list[Milestone]] = relationship(back_populates="plan", order_by="Milestone.due", cascade="all, delete-orphan")
    schedule: Mapped[list[CountyTarget]] = relationship(back_populates="plan", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Plan {self.code}>"


class Section(db.Model):
    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    #: as printed: 一, 二 … (or 1 … 10 for action plans)
    number: Mapped[str] = mapped_column(String(16), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    extra: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    plan: Mapped[Plan] = relationship(back_populates="sections")
    measures: Mapped[list[Measure]] = relationship(back_populates="section", order_by="Measure.position", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Section {self.number} {self.title}>"


class Measure(db.Model):
    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"), nullable=False, index=True)
    #: as printed without brackets: 一 … 二十四; unique within the plan
    number: Mapped[str] = mapped_column(String(32), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: an explicit deadline from the plan file; otherwise the unit kind's default applies
    deadline: Mapped[date | None] = mapped_column(Date)
    #: the unit-group phrases named in the 责任单位 list (各县市人民政府), kept for the export
    groups: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: indicator codes whose passing closes this measure's county tasks (R4, G5 …)
    indicators: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: the rest of the measure entry kept verbatim (group heading, dated targets, recurrence)
    extra: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    section: Mapped[Section] = relationship(back_populates="measures")
    unit_links: Mapped[list[MeasureUnit]] = relationship(back_populates="measure", order_by="MeasureUnit.position", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Measure ({self.number}) {self.title}>"

    @property
    def label(self) -> str:
        if self.number[:1].isdigit():
            return f"{self.number} {self.title}"
        return _("（%(number)s）%(title)s", number=self.number, title=self.title)


class MeasureUnit(db.Model):
    """One named responsible unit of a measure, in the order the plan lists them (lead first)."""

    __tablename__ = "measure_units"
    __table_args__ = (UniqueConstraint("measure_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    is_lead: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: the group phrase this unit came from, if any (各县市人民政府)
    via_group: Mapped[str | None] = mapped_column(String(50))

    measure: Mapped[Measure] = relationship(back_populates="unit_links")
    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<MeasureUnit m{self.measure_id} u{self.unit_id}>"


class Milestone(db.Model):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    due: Mapped[date] = mapped_column(Date, nullable=False)
    #: share of counties that must pass by `due` (0.2 = 20%); empty for a plain dated target
    min_share: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    extra: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    plan: Mapped[Plan] = relationship(back_populates="milestones")

    def __repr__(self) -> str:
        return f"<Milestone {self.due} {self.min_share}>"


class CountyTarget(db.Model):
    """The year by which a county is scheduled to reach the standard (规划进度表)."""

    __tablename__ = "county_targets"
    __table_args__ = (UniqueConstraint("plan_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    target_year: Mapped[int] = mapped_column(Integer, nullable=False)
    #: true when the year is sample data (the real schedule is not public); shown on screen
    sample: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    plan: Mapped[Plan] = relationship(back_populates="schedule")
    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<CountyTarget {self.unit_id} {self.target_year}>"
