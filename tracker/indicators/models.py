"""Indicator tables: the catalog as rows, the school register and yearly school data, county-level
entries with their evidence files, stored county evaluations and county flags (滑坡 …)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db
from tracker.tasks.models import StoredFile
from tracker.units.models import Unit


class IndicatorDef(db.Model):
    """One indicator of the catalog (教督〔2017〕6号), editable by the admin.

    The rows plus the `indicator_settings` rules rebuild a `Catalog` through `Catalog.from_dict`.
    """

    __tablename__ = "indicator_defs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    aspect: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    unit: Mapped[str] = mapped_column(String(32), nullable=False)
    comparison: Mapped[str] = mapped_column(String(8), nullable=False)
    scope: Mapped[str] = mapped_column(String(8), nullable=False, default="county")
    #: G11a/G11b share group G11 (the standard counts them as one indicator)
    group_code: Mapped[str | None] = mapped_column(String(16))
    #: a single threshold (number) or null
    threshold: Mapped[float | int | None] = mapped_column(JSON)
    #: per level ({"primary": 4.2, "junior": 5.3}) or per school type (G4); {} when single
    thresholds: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    #: inter-school CV limit per level, resource indicators only
    cv_limit: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    params: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    source: Mapped[str] = mapped_column(Text, nullable=False, default="")
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: true when no source printed the figure verbatim; shown as 待核实 on screen
    uncertain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<IndicatorDef {self.code}>"


class IndicatorSetting(db.Model):
    """Catalog-wide values: 'rules' (min_met, floor_ratio, exclusions …), 'standard', 'version', 'revision'."""

    __tablename__ = "indicator_settings"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[dict | list | int | float | str] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    def __repr__(self) -> str:
        return f"<IndicatorSetting {self.key}>"


class School(db.Model):
    """The school register (学校名录): one row per 学校代码, in one county."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    #: as of the latest year imported; each year's row keeps its own type
    school_type: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<School {self.code} {self.name}>"


class SchoolDataImport(db.Model):
    """One accepted school-data file: who imported what, for which year and counties."""

    __tablename__ = "school_data_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    #: county codes whose data of `year` this import replaced
    counties: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: generated sample data (示例数据), labelled on every page that shows it
    sample: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<SchoolDataImport {self.year} {self.filename} {self.rows}>"


class SchoolYear(db.Model):
    """One school's figures for one year (学校年度数据); totals are for the whole school."""

    __tablename__ = "school_years"
    __table_args__ = (
        UniqueConstraint("school_id", "year", name="uq_school_years_school_year"),
        Index("ix_school_years_unit_year", "unit_id", "year"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), nullable=False)
    #: the county the school belonged to that year (the evaluation reads by county and year)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("school_data_imports.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    school_type: Mapped[str] = mapped_column(String(16), nullable=False)
    primary_pupils: Mapped[int] = mapped_column(Integer, nullable=False)
    junior_pupils: Mapped[int] = mapped_column(Integer, nullable=False)
    senior_pupils: Mapped[int | None] = mapped_column(Integer)
    qualified_teachers: Mapped[float] = mapped_column(Float, nullable=False)
    backbone_teachers: Mapped[float] = mapped_column(Float, nullable=False)
    pe_art_teachers: Mapped[float] = mapped_column(Float, nullable=False)
    building_area: Mapped[float] = mapped_column(Float, nullable=False)
    sports_area: Mapped[float] = mapped_column(Float, nullable=False)
    equipment_value: Mapped[float] = mapped_column(Float, nullable=False)
    multimedia_rooms: Mapped[float] = mapped_column(Float, nullable=False)
    class_count: Mapped[int] = mapped_column(Integer, nullable=False)
    max_class_size: Mapped[int] = mapped_column(Integer, nullable=False)
    max_class_size_primary: Mapped[int | None] = mapped_column(Integer)
    max_class_size_junior: Mapped[int | None] = mapped_column(Integer)

    school: Mapped[School] = relationship()

    def __repr__(self) -> str:
        return f"<SchoolYear {self.school_id} {self.year}>"


class CountyEntry(db.Model):
    """A county-level indicator value for one year (G*, Q*, S1, V*), entered by hand."""

    __tablename__ = "county_entries"
    __table_args__ = (UniqueConstraint("unit_id", "year", "code", name="uq_county_entries_unit_year_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    code: Mapped[str] = mapped_column(String(16), nullable=False)
    #: a number, true/false, or {"primary": n, "junior": n} (G13)
    value: Mapped[dict | float | int | bool] = mapped_column(JSON, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    entered_by: Mapped[User | None] = relationship()
    files: Mapped[list[CountyEntryFile]] = relationship(back_populates="entry", order_by="CountyEntryFile.id",
                                                        cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<CountyEntry {self.unit_id} {self.year} {self.code}={self.value!r}>"


class CountyEntryFile(db.Model):
    """An evidence file behind a county entry; the content is stored once by sha256 (StoredFile)."""

    __tablename__ = "county_entry_files"
    __table_args__ = (UniqueConstraint("entry_id", "sha256", name="uq_county_entry_files_entry_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("county_entries.id", ondelete="CASCADE"), nullable=False, index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    entry: Mapped[CountyEntry] = relationship(back_populates="files")
    stored: Mapped[StoredFile] = relationship()

    def __repr__(self) -> str:
        return f"<CountyEntryFile {self.entry_id} {self.filename}>"


#: The results of an evaluation of every county on their way into `county_evaluations` (PostgreSQL: COPYed
#: here, then one upsert). Each run deletes its rows before its transaction ends, so no other transaction
#: ever sees a row. Unlogged; a result is compressed once, as it is staged (lz4 where the server has it), and
#: the upsert copies it as it is. A table of the schema rather than a temporary one: creating a temporary
#: table in every transaction would cost catalog writes each night and each import.
county_evaluations_in = db.Table(
    "county_evaluations_in", db.metadata,
    db.Column("unit_id", Integer, nullable=False),
    db.Column("year", Integer, nullable=False),
    db.Column("result", JSON, nullable=False),
    db.Column("passed", Boolean, nullable=False),
    db.Column("assessable", Boolean, nullable=False),
    db.Column("catalog_version", Integer, nullable=False),
    db.Column("computed_at", DateTime, nullable=False),
)


class CountyEvaluation(db.Model):
    """The stored result of evaluating one county for one year; recomputed in place."""

    __tablename__ = "county_evaluations"
    __table_args__ = (UniqueConstraint("unit_id", "year", name="uq_county_evaluations_unit_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    #: exactly what tracker.indicators.engine.evaluate_county returned
    result: Mapped[dict] = mapped_column(JSON, nullable=False)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    #: false while the verdict still depends on county entries not yet made
    assessable: Mapped[bool] = mapped_column(Boolean, nullable=False)
    #: the catalog revision the result was computed with (indicator_settings 'revision')
    catalog_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    computed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<CountyEvaluation {self.unit_id} {self.year} pass={self.passed}>"


class CountyFlag(db.Model):
    """Something about a county supervisors must follow up: 'slippage' (滑坡) now; 'overdue', 'milestone' later."""

    __tablename__ = "county_flags"
    __table_args__ = (
        UniqueConstraint("unit_id", "kind", "year", name="uq_county_flags_unit_kind_year"),
        Index("ix_county_flags_open", "kind", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    detail: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<CountyFlag {self.unit_id} {self.kind} {self.year}>"
