"""Scheduler bookkeeping: which calendar slot of which job has run (one row per job and slot)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db
from tracker.tasks.models import Task

#: The sweep's access path on the tasks table: each ladder move is ``ladder = <from> AND deadline in
#: <range>``, so with this index a sweep touches the rows that move (plus an index probe), not every
#: task past its deadline. Declared here, beside the job that needs it; created by the scheduler migration.
TASKS_LADDER_DEADLINE = Index("ix_tasks_ladder_deadline", Task.__table__.c.ladder, Task.__table__.c.deadline)


class JobSlot(db.Model):
    """A claimed run of a calendar job (digests, nightly re-evaluation) for one fire time.

    The primary key makes "run once per slot" hold across restarts, catch-up ticks and two
    schedulers: the claim is inserted in the job's own transaction, so a failed run leaves no claim.
    """

    __tablename__ = "scheduler_slots"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the fire time in China time, "2026-11-30T08:30"
    slot: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the instant the job ran as of (naive UTC), which may be later than the slot after downtime
    as_of: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    result: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    def __repr__(self) -> str:
        return f"<JobSlot {self.job} {self.slot}>"
