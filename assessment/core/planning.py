"""The three questions of the compassionate leadership model, one per capability.

A leader's development plan answers them, the individual report ends with them (with a prompt
to start from, docs/reports.md), and the mail that says a report is ready names them: all from
this one list, so the wording a leader reads in one place is the wording of the others.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanningQuestion:
    key: str
    """Where the leader's answer is kept: a column of the development plan."""
    capability: str
    question: str
    prompt: str


PLANNING_QUESTIONS: tuple[PlanningQuestion, ...] = (
    PlanningQuestion(
        "purpose",
        "Purpose",
        "What is your leadership for?",
        "Write your answer in your own words, then name one decision in the coming month that it "
        "should shape.",
    ),
    PlanningQuestion(
        "pressure",
        "Self-awareness",
        "What do I notice in myself under pressure?",
        "Recall a recent pressured moment. What did you think and feel before you acted, and what "
        "would a pause have changed?",
    ),
    PlanningQuestion(
        "courage",
        "Courage",
        "Where do I need courage?",
        "Name one place where acting on your purpose would be unpopular with those in authority, "
        "and the first step you will take.",
    ),
)

MAX_PLAN_LENGTH = 8000
"""The longest answer the plan keeps, in characters: the form says so, and saving checks it again."""
