"""Task, its audit trail (TaskEvent), progress reports, evidence and extension requests."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db
from tracker.plans.models import Measure, Plan
from tracker.units.models import Unit


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("measure_id", "unit_id", "period", name="uq_tasks_measure_unit_period"),
        Index("ix_tasks_status_deadline", "status", "deadline"),
        Index("ix_tasks_unit_status", "unit_id", "status"),
        Index("ix_tasks_ladder", "ladder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    #: '' for a one-off task; '2026' etc. for a recurring measure's yearly task
    period: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    #: start of the task's period, for time-proportional progress (序时进度)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    deadline: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    #: 'default' when the deadline came from the plan's rules, 'plan' from the plan file, 'manual' when edited
    deadline_source: Mapped[str] = mapped_column(String(16), nullable=False, default="default")
    #: lifecycle state (workflows.lifecycle)
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="assigned")
    #: supervision ladder state (workflows.ladder)
    ladder: Mapped[str] = mapped_column(String(24), nullable=False, default="normal")
    is_lead: Mapped[bool] = mapped_column(default=False, nullable=False)
    progress_percent: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_progress_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: optimistic lock: every change bumps it; a stale writer gets a conflict, never a lost update
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    #: 'plan' for a measure × unit task; 'rectification' for an interview's rectification item (整改事项)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="plan", server_default="plan")
    #: the rectification item's text (DB column "title"); None for plan tasks — see `display_title`
    item_title: Mapped[str | None] = mapped_column("title", String(300))

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship()
    measure: Mapped[Measure] = relationship()
    unit: Mapped[Unit] = relationship()

    def __repr__(self) -> str:
        return f"<Task {self.id} m{self.measure_id} u{self.unit_id} {self.status}/{self.ladder}>"

    @property
    def status_label(self) -> str:
        from workflows import STATE_LABELS

        return str(STATE_LABELS.get(self.status, self.status))

    @property
    def display_title(self) -> str:
        """What lists show as the task's name: a rectification item's text, else the measure's label."""
        return self.item_title or self.measure.label

    @property
    def title(self) -> str:
        return f"{self.display_title} · {self.unit.name}"


class TaskEvent(db.Model):
    """One audit row per accepted action. The app only ever inserts these."""

    __tablename__ = "task_events"
    __table_args__ = (Index("ix_task_events_task_created", "task_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: a lifecycle or ladder event, or an action: progress, evidence, extension_request, deadline …
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    from_ladder: Mapped[str | None] = mapped_column(String(24))
    to_ladder: Mapped[str | None] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<TaskEvent {self.task_id} {self.event} {self.from_status}->{self.to_status}>"


class ProgressReport(db.Model):
    __tablename__ = "progress_reports"
    __table_args__ = (Index("ix_progress_reports_task_created", "task_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    percent: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ProgressReport {self.task_id} {self.percent}%>"


class StoredFile(db.Model):
    """File content stored once under instance/evidence/<sha256>, however often uploaded."""

    __tablename__ = "stored_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: the type detected from the content (not from the name)
    mimetype: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<StoredFile {self.sha256[:12]} {self.size}>"


class Evidence(db.Model):
    """A piece of evidence (佐证材料) attached to a task: an uploaded file or a generated record."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_task", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the name the user gave the file, cleaned; never used as a path
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_files.sha256"))
    #: 'file' for uploads; 'evaluation' for an attached indicator evaluation
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="file")
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    stored: Mapped[StoredFile | None] = relationship()
    uploader: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Evidence {self.task_id} {self.filename}>"


class ExtensionRequest(db.Model):
    __tablename__ = "extension_requests"
    __table_args__ = (Index("ix_extension_requests_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False, index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    old_deadline: Mapped[date] = mapped_column(Date, nullable=False)
    new_deadline: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    #: pending | approved | rejected
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    needs_leadership: Mapped[bool] = mapped_column(default=False, nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    task: Mapped[Task] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    def __repr__(self) -> str:
        return f"<ExtensionRequest {self.task_id} {self.new_deadline} {self.status}>"


class PolicySetting(db.Model):
    """Escalation policy as data (thresholds in days etc.), one row per key; edited by the admin."""

    __tablename__ = "policy_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict | list | int | float | str] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    def __repr__(self) -> str:
        return f"<PolicySetting {self.key}={self.value!r}>"
