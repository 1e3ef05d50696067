"""Random events by random roles on a stored task, with the invariants checked after every step."""
from __future__ import annotations

import io

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select

from tests.helpers import PDF_BYTES, task_of, unit_named
from tracker.errors import ServiceError
from tracker.models import Evidence, Task, TaskEvent
from tracker.tasks import operations as ops
from workflows import STATE_LABELS, TransitionRefused
from workflows.lifecycle import EVENT_LABELS

ACTORS = ["owner", "other_unit", "supervisor", "leadership", "admin"]


def test_random_walk_keeps_invariants(app, db, chuxiong, make_user):
    users = {
        "owner": make_user("owner", "unit", unit_named("禄丰市").code),
        "other_unit": make_user("other", "unit", unit_named("楚雄市").code),
        "supervisor": make_user("sup", "supervisor"),
        "leadership": make_user("lead", "leadership"),
        "admin": make_user("adm", "admin"),
    }
    task_ids = [task_of("禄丰市", n).id for n in ("一", "二", "三", "四", "五", "六", "七", "八")]
    pool = iter(task_ids * 100)

    class TaskMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.task = db.session.get(Task, next(pool))
            self.task.status, self.task.ladder = "assigned", "normal"
            db.session.query(TaskEvent).filter_by(task_id=self.task.id).delete()
            db.session.query(Evidence).filter_by(task_id=self.task.id).delete()
            from tracker.models import ProgressReport

            db.session.query(ProgressReport).filter_by(task_id=self.task.id).delete()
            db.session.commit()
            self.accepted = 0

        def audit_rows(self) -> int:
            return db.session.scalar(select(func.count()).select_from(TaskEvent).where(TaskEvent.task_id == self.task.id))

        @rule(event=st.sampled_from(sorted(EVENT_LABELS)), actor=st.sampled_from(ACTORS), reason=st.booleans())
        def fire(self, event, actor, reason):
            before = (self.task.status, self.audit_rows())
            try:
                ops.fire(self.task, event, users[actor], comment="理由" if reason else "")
                db.session.commit()
                self.accepted += 1
                assert self.audit_rows() == before[1] + 1
            except (TransitionRefused, ServiceError):
                db.session.rollback()
                db.session.refresh(self.task)
                assert (self.task.status, self.audit_rows()) == before

        @rule(actor=st.sampled_from(ACTORS))
        def work(self, actor):
            before = self.audit_rows()
            try:
                ops.report_progress(self.task, users[actor], 50, "推进中")
                ops.add_evidence(self.task, users[actor], io.BytesIO(PDF_BYTES), "材料.pdf")
                db.session.commit()
                self.accepted += 1
            except ServiceError:
                db.session.rollback()
                db.session.refresh(self.task)
                assert self.audit_rows() == before

        @invariant()
        def state_is_declared(self):
            assert self.task.status in STATE_LABELS

        @invariant()
        def completed_has_evidence(self):
            if self.task.status in ("submitted", "completed"):
                assert db.session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == self.task.id)) >= 1

        @invariant()
        def completed_is_normal(self):
            if self.task.status == "completed":
                assert self.task.ladder == "normal" and self.task.completed_at is not None

    TaskMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None,
                                             suppress_health_check=list(HealthCheck))
    TaskMachine.TestCase().runTest()
