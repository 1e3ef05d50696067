"""The escalation policy as data: rows in policy_settings over the defaults in workflows.policy."""
from __future__ import annotations

from flask import g, has_app_context
from sqlalchemy import select

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.tasks.models import PolicySetting
from workflows.policy import DEFAULT_POLICY, EscalationPolicy


def load_policy() -> EscalationPolicy:
    if has_app_context() and "escalation_policy" in g:
        return g.escalation_policy
    rows = {r.key: r.value for r in db.session.scalars(select(PolicySetting))}
    known = {k: v for k, v in rows.items() if k in DEFAULT_POLICY.to_mapping()}
    value = EscalationPolicy.from_mapping(known) if known else DEFAULT_POLICY
    if has_app_context():
        g.escalation_policy = value
    return value


def save_policy(values: dict, actor) -> EscalationPolicy:
    """Validate the whole policy first (PolicyError names the field), then store each key."""
    merged = {**load_policy().to_mapping(), **values}
    new = EscalationPolicy.from_mapping(merged)
    now = utcnow()
    for key, value in new.to_mapping().items():
        row = db.session.get(PolicySetting, key) or PolicySetting(key=key)
        row.value, row.updated_at = value, now
        db.session.add(row)
    g.pop("escalation_policy", None)
    db.session.flush()
    return new
