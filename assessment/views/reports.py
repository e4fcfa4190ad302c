"""The coach's report downloads that belong to a whole cohort.

Each leader's own PDF is served by :mod:`assessment.views.coach`; the cohort report is here.
Like every coach page, it answers 404 (not 403) for a cohort that is not the signed-in coach's,
so a guessed slug reveals nothing.
"""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from assessment import reporting
from assessment.views.coach import my_cohort
from assessment.web import db_session, login_required

blueprint = Blueprint("reports", __name__)


@blueprint.route("/cohorts/<slug>/cohort-report.pdf")
@login_required
def cohort_report(slug: str) -> Response:
    cohort = my_cohort(slug)
    pdf = reporting.cohort_report_pdf(db_session(), cohort)
    disposition = "inline" if request.args.get("inline") is not None else "attachment"
    filename = reporting.cohort_report_filename(cohort)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )
