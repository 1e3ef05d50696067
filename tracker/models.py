"""Imports every model so the metadata (and Alembic) sees the whole schema."""
from tracker.admin.models import AdminEvent, LoginAttempt  # noqa: F401
from tracker.auth.models import User  # noqa: F401
from tracker.indicators.models import CountyEntry, CountyEntryFile, CountyEvaluation, CountyFlag, IndicatorDef, IndicatorSetting, School, SchoolDataImport, SchoolYear  # noqa: F401
from tracker.notices.models import NoticePreference, Notification, UnitWebhook  # noqa: F401
from tracker.plans.models import CountyTarget, Measure, MeasureUnit, Milestone, Plan, Section  # noqa: F401
from tracker.tasks.models import (  # noqa: F401
    Evidence,
    ExtensionRequest,
    PolicySetting,
    ProgressReport,
    StoredFile,
    Task,
    TaskEvent,
)
from tracker.units.models import Unit  # noqa: F401
from tracker.scheduler.models import JobSlot  # noqa: F401
from tracker.api.models import ApiToken  # noqa: F401
from tracker.supervision.models import AccountabilityRecord, Instruction, InstructionTask, Interview, InterviewEvent, RectificationItem  # noqa: F401
