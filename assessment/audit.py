"""The audit trail of administrative actions: who did what to which cohort, never a rater's
answers or when a rater responded (docs/anonymity.md, "What the database remembers")."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assessment.models import AuditEvent


def record(session: Session, actor: str, action: str, target: str, **detail: Any) -> None:
    """Add an audit event to the current transaction, so it lands exactly when the action does."""
    session.add(AuditEvent(actor=actor, action=action, target=target, detail=detail))
