"""Instructions (批示), interviews (约谈) and their audit trail, rectification items (整改事项), accountability records (问责)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Date, DateTime, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.extensions import db
from tracker.plans.models import Measure
from tracker.tasks.models import StoredFile, Task
from tracker.units.models import Unit

#: the open task states supervision watches (a suspended task is paused on purpose; a submitted one waits for review)
WATCHED_STATES = ("assigned", "in_progress", "submitted", "returned")


class InterviewStatus(str, enum.Enum):
    scheduled = "scheduled"
    held = "held"
    closed = "closed"
    cancelled = "cancelled"


INTERVIEW_STATUS_LABELS = {"scheduled": _l("待约谈"), "held": _l("已约谈（整改中）"), "closed": _l("已结束"),
                           "cancelled": _l("已取消")}
INTERVIEW_EVENT_LABELS = {"open": _l("发起约谈"), "hold": _l("举行约谈"), "add_item": _l("下达整改事项"),
                          "close": _l("约谈结束"), "cancel": _l("取消约谈")}


class AccountabilityType(str, enum.Enum):
    criticism = "criticism"
    interview = "interview"
    admonition = "admonition"
    organisational = "organisational"
    other = "other"


ACCOUNTABILITY_TYPE_LABELS = {"criticism": _l("通报批评"), "interview": _l("约谈问责"), "admonition": _l("诫勉谈话"),
                              "organisational": _l("组织处理"), "other": _l("其他")}


class Instruction(db.Model):
    """A leadership-group instruction (批示) on one or more overdue/escalated tasks."""

    __tablename__ = "instructions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    #: the deadline every linked task was moved to; None when the instruction set no deadline
    new_deadline: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)

    author: Mapped[User] = relationship()
    links: Mapped[list[InstructionTask]] = relationship(back_populates="instruction", order_by="InstructionTask.id",
                                                        cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Instruction {self.id} by u{self.author_id} tasks={len(self.links)}>"


class InstructionTask(db.Model):
    """One task an instruction was given on, with the deadline it had before."""

    __tablename__ = "instruction_tasks"
    __table_args__ = (UniqueConstraint("instruction_id", "task_id", name="uq_instruction_tasks_instruction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instructions.id", ondelete="CASCADE"), nullable=False)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False, index=True)
    old_deadline: Mapped[date] = mapped_column(Date, nullable=False)

    instruction: Mapped[Instruction] = relationship(back_populates="links")
    task: Mapped[Task] = relationship()

    def __repr__(self) -> str:
        return f"<InstructionTask i{self.instruction_id} t{self.task_id}>"


class Interview(db.Model):
    """An interview (约谈) of a county or department: scheduled → held → closed, or cancelled."""

    __tablename__ = "interviews"
    __table_args__ = (Index("ix_interviews_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    #: the flag it was opened from, if any (the flag is resolved when the interview is opened)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("county_flags.id", ondelete="SET NULL"))
    status: Mapped[InterviewStatus] = mapped_column(
        Enum(InterviewStatus, native_enum=False, values_callable=lambda e: [m.value for m in e], length=16),
        nullable=False, default=InterviewStatus.scheduled)
    #: when it takes place (naive UTC like every timestamp; forms take China time)
    scheduled_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    place: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    #: who attends for the bureau (约谈人)
    attendees: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: who is interviewed (被约谈人), e.g. the county head in charge of education
    interviewees: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: snapshot of the reasons when opened: [{"type": "task"|"indicator"|"flag"|"note", "text": …, …}]
    reasons: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    minutes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    outcome: Mapped[str] = mapped_column(Text, nullable=False, default="")
    cancel_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    held_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: optimistic lock: two supervisors acting at once cannot both hold or close it
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    unit: Mapped[Unit] = relationship()
    opened_by: Mapped[User] = relationship()
    items: Mapped[list[RectificationItem]] = relationship(back_populates="interview", order_by="RectificationItem.id")

    def __repr__(self) -> str:
        return f"<Interview {self.id} u{self.unit_id} {self.status_value}>"

    @property
    def status_value(self) -> str:
        return self.status.value if isinstance(self.status, InterviewStatus) else self.status

    @property
    def status_label(self) -> str:
        return str(INTERVIEW_STATUS_LABELS[self.status_value])


class InterviewEvent(db.Model):
    """One audit row per interview state change or action; only ever inserted."""

    __tablename__ = "interview_events"
    __table_args__ = (Index("ix_interview_events_interview_created", "interview_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: open | hold | add_item | close | cancel
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<InterviewEvent {self.interview_id} {self.event}>"


class RectificationItem(db.Model):
    """One item of an interview's rectification list (整改清单); it runs as a Task of kind 'rectification'."""

    __tablename__ = "rectification_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False, index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    #: the owner unit (责任单位) of the item — usually the interviewed unit, possibly a department
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    #: the related measure, which the item's task belongs to
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    interview: Mapped[Interview] = relationship(back_populates="items")
    unit: Mapped[Unit] = relationship()
    measure: Mapped[Measure | None] = relationship()
    task: Mapped[Task | None] = relationship()
    created_by: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<RectificationItem {self.id} i{self.interview_id} t{self.task_id}>"


class AccountabilityRecord(db.Model):
    """A recorded accountability decision (问责决定), with its document."""

    __tablename__ = "accountability_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id", ondelete="SET NULL"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_items.id", ondelete="SET NULL"), index=True)
    #: AccountabilityType value (通报批评 …)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    #: the decision's document number (文号)
    doc_number: Mapped[str] = mapped_column(String(100), nullable=False)
    decided_on: Mapped[date] = mapped_column(Date, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_files.sha256"))
    #: the uploaded document's cleaned name (a label, never a path)
    filename: Mapped[str | None] = mapped_column(String(255))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()
    interview: Mapped[Interview | None] = relationship()
    item: Mapped[RectificationItem | None] = relationship()
    stored: Mapped[StoredFile | None] = relationship()
    recorded_by: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<AccountabilityRecord {self.id} u{self.unit_id} {self.type}>"

    @property
    def type_label(self) -> str:
        return str(ACCOUNTABILITY_TYPE_LABELS.get(self.type, self.type))
