"""Exceptions raised by the workflow package.

Every error the package raises on purpose derives from :class:`WorkflowError`,
so a Flask view can catch that one class and show ``str(err)`` (always a
Chinese sentence fit for a flash message) to the user, while code that needs
to branch can read the machine-readable attributes instead of parsing text.
"""
from __future__ import annotations


class WorkflowError(Exception):
    """Base class of every deliberate error in :mod:`workflows`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransitionRefused(WorkflowError):
    """A state-machine event was refused; the subject was left untouched.

    Attributes:
        machine: ``'lifecycle'`` or ``'ladder'`` – which machine refused.
        event: the event name that was attempted (e.g. ``'submit'``).
        state: the subject's state at the time (e.g. ``'assigned'``).
        role: the acting role from the context (e.g. ``'supervisor'``).
        code: why it was refused, one of ``unknown_event``, ``unknown_state``,
            ``invalid_state``, ``role_forbidden``, ``not_owner``,
            ``reason_required``, ``missing_progress_or_evidence``,
            ``indicators_failed``.
    """

    def __init__(self, message: str, *, machine: str, event: str, state, role: str,
                 code: str) -> None:
        super().__init__(message)
        self.machine = machine
        self.event = event
        self.state = state
        self.role = role
        self.code = code

    def to_dict(self) -> dict:
        """JSON-friendly form for API responses and audit logs."""
        return {"machine": self.machine, "event": self.event, "state": self.state,
                "role": self.role, "code": self.code, "message": self.message}


class ExtensionRefused(WorkflowError):
    """An extension (延期) request breaks the rules; ``code`` says which.

    Codes: ``overdue`` (deadline already passed), ``not_later`` (the new
    deadline is not after the current one).
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class PolicyError(WorkflowError, ValueError):
    """An escalation-policy value is invalid; ``field`` names the bad key.

    Also a ``ValueError`` so generic form/config validation code that already
    catches ``ValueError`` keeps working.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
