"""Coach accounts: creation and password checks (argon2id via argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.models import Coach, new_session_key

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verifying against this keeps unknown-email sign-ins as slow as wrong-password ones.
_DUMMY_HASH = _hasher.hash("not a real password")


class AccountError(ValueError):
    """A coach account could not be created as asked."""


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(f"'{email}' is not a valid email address: {error}") from None


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_coach(session: Session, email: str, password: str) -> Coach:
    email = normalise_email(email)
    _check_new_password(password)
    if session.scalar(select(Coach).where(func.lower(Coach.email) == email)):
        raise AccountError(f"a coach with email {email} already exists")
    coach = Coach(email=email, password_hash=_hasher.hash(password))
    session.add(coach)
    session.flush()
    return coach


def authenticate(session: Session, email: str, password: str) -> Coach | None:
    """The coach with these credentials, or None; timing does not reveal which part was wrong."""
    coach = find_coach(session, email)
    try:
        _hasher.verify(coach.password_hash if coach else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if coach is None:
        return None
    if _hasher.check_needs_rehash(coach.password_hash):
        coach.password_hash = _hasher.hash(password)
    return coach


def end_sessions(session: Session, coach: Coach) -> None:
    """End every signed-in session of this coach, on every device (signing out does this)."""
    coach.session_key = new_session_key()
    session.flush()


def change_password(session: Session, coach: Coach, new_password: str) -> None:
    """A new password; every session made with the old one ends (the caller may start a new
    one for the person who changed it)."""
    _check_new_password(new_password)
    coach.password_hash = _hasher.hash(new_password)
    end_sessions(session, coach)
    audit.record(session, coach.email, "coach.password", f"coach:{coach.id}")


def find_coach(session: Session, email: str) -> Coach | None:
    return session.scalar(select(Coach).where(func.lower(Coach.email) == email.strip().lower()))
