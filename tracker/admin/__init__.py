"""Administration: users and roles, escalation policy, and the audit of admin actions."""
