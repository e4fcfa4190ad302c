"""Coach-facing forms. Every state change, even a single button, is a CSRF-protected POST."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from assessment.models import Relationship

RELATIONSHIP_LABELS = {
    Relationship.SELF: "The leader (self-assessment)",
    Relationship.MANAGER: "Manager",
    Relationship.PEER: "Peer",
    Relationship.DIRECT_REPORT: "Direct report",
    Relationship.OTHER: "Other colleague",
}


class EmptyForm(FlaskForm):
    """A bare CSRF token, for buttons that change state (close a cohort, reissue a link)."""


class ResponseForm(FlaskForm):
    """CSRF for the rater's questionnaire; the questions themselves come from the instrument."""


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class CohortForm(FlaskForm):
    name = StringField("Cohort name", validators=[InputRequired(), Length(max=200)])
    instrument = SelectField("Questionnaire", validators=[InputRequired()])


class LeaderForm(FlaskForm):
    name = StringField("Full name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=320)])
    department = StringField(
        "Team or department (optional)", validators=[Optional(), Length(max=200)]
    )


class InvitationForm(FlaskForm):
    relationship = SelectField(
        "Relationship to the leader",
        choices=[SelectChoice(r.value, label) for r, label in RELATIONSHIP_LABELS.items()],
        validators=[InputRequired()],
    )
    rater_name = StringField("Rater's name (optional)", validators=[Optional(), Length(max=200)])
    rater_email = EmailField(
        "Rater's email (optional)", validators=[Optional(), Email(), Length(max=320)]
    )
    count = IntegerField(
        "How many links", default=1, validators=[InputRequired(), NumberRange(min=1, max=30)]
    )
