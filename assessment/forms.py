"""Coach-facing forms. Every state change, even a single button, is a CSRF-protected POST."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, EqualTo, InputRequired, Length, NumberRange, Optional

from assessment.core.instruments import Instrument
from assessment.core.planning import MAX_PLAN_LENGTH, PLANNING_QUESTIONS
from assessment.core.text import TextError, free_text, one_line
from assessment.models import Relationship


class LineField(StringField):
    """A single-line text box whose value is stored as :func:`assessment.core.text.one_line` makes it:
    line breaks and tabs become spaces, other control characters are refused at the field."""

    data: str | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data:
            try:
                self.data = one_line(self.data, "This")
            except TextError as error:
                raise ValueError(str(error)) from None


class FreeTextField(TextAreaField):
    """A text area whose value is stored as :func:`assessment.core.text.free_text` makes it."""

    data: str | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data:
            self.data = free_text(self.data)


class EmptyForm(FlaskForm):
    """A bare CSRF token, for buttons that change state (close a cohort, reissue a link)."""


class ResponseForm(FlaskForm):
    """CSRF for the rater's questionnaire; the questions themselves come from the instrument."""


# Password managers fill and save coaches' passwords by these autocomplete tokens.
SIGN_IN = {"autocomplete": "username"}
CURRENT = {"autocomplete": "current-password"}
NEW = {"autocomplete": "new-password"}


class LoginForm(FlaskForm):
    email = EmailField(
        "Email", validators=[InputRequired(), Email(), Length(max=320)], render_kw=SIGN_IN
    )
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=200)], render_kw=CURRENT
    )


class PasswordForm(FlaskForm):
    current = PasswordField(
        "Current password", validators=[InputRequired(), Length(max=200)], render_kw=CURRENT
    )
    new = PasswordField(
        "New password", validators=[InputRequired(), Length(max=200)], render_kw=NEW
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            InputRequired(),
            EqualTo("new", message="The two new passwords do not match; type them again."),
        ],
        render_kw=NEW,
    )


class CohortForm(FlaskForm):
    name = LineField("Cohort name", validators=[InputRequired(), Length(max=200)])
    instrument = SelectField("Questionnaire", validators=[InputRequired()])
    language = SelectField(
        "Main language", default="en", validate_choice=False, validators=[Optional()]
    )


class LeaderForm(FlaskForm):
    name = LineField("Full name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=320)])
    department = LineField(
        "Team or department (optional)", validators=[Optional(), Length(max=200)]
    )


class InvitationForm(FlaskForm):
    relationship = SelectField(
        "Relationship to the leader",
        choices=[SelectChoice(r.value, r.label) for r in Relationship],
        validators=[InputRequired()],
    )
    rater_name = LineField("Rater's name (optional)", validators=[Optional(), Length(max=200)])
    rater_email = EmailField(
        "Rater's email (optional)", validators=[Optional(), Email(), Length(max=320)]
    )
    count = IntegerField(
        "How many links", default=1, validators=[InputRequired(), NumberRange(min=1, max=30)]
    )
    language = SelectField(
        "Language of the questionnaire", validate_choice=False, validators=[Optional()]
    )


# -- Running a campaign ------------------------------------------------------------------------


class ImportForm(FlaskForm):
    """A CSV upload; the file is read and checked whole by :mod:`assessment.imports`."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload")])


class ScheduleForm(FlaskForm):
    deadline = DateField("Deadline", validators=[Optional()])
    reminder_days = LineField(
        "Remind on these days before the deadline", validators=[Optional(), Length(max=100)]
    )

    def days(self) -> list[int]:
        text = (self.reminder_days.data or "").replace(";", ",")
        try:
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise ValueError(
                "give whole numbers of days separated by commas, e.g. 7, 3, 1"
            ) from None


class NominationForm(FlaskForm):
    name = LineField("Their name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Their email", validators=[InputRequired(), Email(), Length(max=320)])
    relationship = SelectField("How they work with you", validators=[InputRequired()])


class DecisionForm(FlaskForm):
    """The coach's decision on one nomination, with the fields open to correction."""

    name = LineField("Name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=320)])
    relationship = SelectField("Relationship", validators=[InputRequired()])


class RedactionForm(FlaskForm):
    handle = HiddenField(validators=[InputRequired(), Length(max=64)])
    text = FreeTextField("Comment as it will appear", validators=[Length(max=5000)])


class PlanForm(FlaskForm):
    """A text area per question of the model, named by the plan column that keeps its answer
    (the fields are added below, from the one list of the questions)."""


for _question in PLANNING_QUESTIONS:
    setattr(
        PlanForm,
        _question.key,
        FreeTextField(_question.question, validators=[Length(max=MAX_PLAN_LENGTH)]),
    )
del _question


def observer_choices(instrument: Instrument) -> list[SelectChoice]:
    """The rater groups a nomination or a decision may name: the instrument's observer groups."""
    return [SelectChoice(g.id, Relationship(g.id).label) for g in instrument.observer_groups]
