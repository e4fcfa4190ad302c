"""The coach's report downloads that belong to a whole cohort.

Each leader's own PDF is served by :mod:`assessment.views.coach`; the cohort report is here.
Like every coach page, it answers 404 (not 403) for a cohort that is not the signed-in coach's,
so a guessed slug reveals nothing.
"""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from assessment import disclosures
from assessment.views.coach import my_cohort, not_yet
from assessment.web import db_session, login_required, send_artefact, signed_in_coach, writes

blueprint = Blueprint("reports", __name__)


@blueprint.route("/cohorts/<slug>/cohort-report.pdf")
@login_required
@writes
def cohort_report(slug: str) -> Response | tuple[str, int]:
    cohort = my_cohort(slug)
    try:
        artefact = disclosures.cohort_pdf(db_session(), cohort, actor=signed_in_coach().email)
    except disclosures.CohortOpen as error:
        return not_yet(error)
    return send_artefact(artefact, inline=request.args.get("inline") is not None)
