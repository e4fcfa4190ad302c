"""The disclosure ledger: nothing observer-side leaves an open cohort, and no two disclosures
for a leader differ by fewer raters than the minimum (docs/anonymity.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from assessment.cli import cli
from assessment.cohorts import add_leader, close_cohort, create_cohort, reopen_cohort
from assessment.invitations import create_invitation
from assessment.models import Artefact, Disclosure, Leader, Relationship, ResponseSet
from assessment.responses import Answers, submit
from tests.builders import csrf_token


def answer(session, instrument, leader, relationship, value, comment=None):
    invitation = create_invitation(session, leader, relationship, actor="t")
    comments = {instrument.open_questions[0].id: comment} if comment else {}
    submit(
        session, instrument, invitation, Answers({i.id: value for i in instrument.items}, comments)
    )


@pytest.fixture
def rated(database, coach, instrument):
    """An open cohort: one leader rated by themselves, a manager and three peers."""
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Ledger cohort", instrument)
        leader = add_leader(s, cohort, "Omar Said", "omar@example.org")
        answer(s, instrument, leader, Relationship.SELF, 4)
        answer(s, instrument, leader, Relationship.MANAGER, 3)
        for value in (2, 3, 4):
            answer(s, instrument, leader, Relationship.PEER, value, f"Peer comment {value}")
        return cohort, leader


def urls(cohort, leader) -> dict[str, str]:
    base = f"/cohorts/{cohort.slug}"
    return {
        "csv": f"{base}/scores.csv",
        "xlsx": f"{base}/scores.xlsx",
        "cohort report": f"{base}/cohort-report.pdf",
        "leader report": f"{base}/leaders/{leader.id}/report.pdf",
        "comments": f"{base}/leaders/{leader.id}/comments",
    }


def test_nothing_observer_side_leaves_an_open_cohort(signed_in, rated, runner, tmp_path, session):
    cohort, leader = rated
    for what, url in urls(cohort, leader).items():
        response = signed_in.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == 409, what
        assert "still open" in page and "Peer comment" not in page, what
    dashboard = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    assert "scores.csv" not in dashboard and "Scores, reports and comments open when" in dashboard
    out = tmp_path / "reports"
    built = runner.invoke(cli, ["reports", "build", "--cohort", cohort.slug, "--out", str(out)])
    assert built.exit_code == 1 and "still open" in built.output and not out.exists()
    exported = runner.invoke(cli, ["scores", "export", "--cohort", cohort.slug])
    assert exported.exit_code == 1 and "still open" in exported.output
    assert session.scalar(select(func.count()).select_from(Disclosure)) == 0


def test_a_late_rater_cannot_be_read_off_two_disclosures(
    signed_in, rated, database, instrument, session, runner
):
    cohort, leader = rated
    links = urls(cohort, leader)
    with database.transaction() as s:
        close_cohort(s, s.merge(cohort), "t")
    first = {what: signed_in.get(links[what]).data for what in ("csv", "leader report")}
    comments = signed_in.get(links["comments"]).get_data(as_text=True)
    assert "Peer comment 2" in comments
    with database.transaction() as s:
        lead = s.get(Leader, leader.id)
        reopen_cohort(s, lead.cohort, "t")
        answer(s, instrument, lead, Relationship.PEER, 5, "A late and named peer")
        close_cohort(s, lead.cohort, "t")
    # The late peer's answers are held back: every disclosure is the one made before.
    for what, before in first.items():
        assert signed_in.get(links[what]).data == before, what
    comments = signed_in.get(links["comments"]).get_data(as_text=True)
    assert "A late and named peer" not in comments
    held_back = "Peers: 1 new response held back until at least 2 more arrive"
    assert held_back in comments
    leader_page = signed_in.get(f"/cohorts/{cohort.slug}/leaders/{leader.id}")
    assert held_back in leader_page.get_data(as_text=True)
    exported = runner.invoke(cli, ["scores", "export", "--cohort", cohort.slug])
    assert exported.exit_code == 0 and f"Omar Said: {held_back}" in exported.stderr
    with database.transaction() as s:
        lead = s.get(Leader, leader.id)
        reopen_cohort(s, lead.cohort, "t")
        answer(s, instrument, lead, Relationship.PEER, 1)
        answer(s, instrument, lead, Relationship.PEER, 3)
        close_cohort(s, lead.cohort, "t")
    # Three new peers: as many as the group's minimum, so the figures may move now.
    assert signed_in.get(links["csv"]).data != first["csv"]
    assert "A late and named peer" in signed_in.get(links["comments"]).get_data(as_text=True)
    counts = sorted(sum(s.counts.values()) for s in session.scalars(select(ResponseSet)))
    assert counts == [5, 8]


def test_asking_again_serves_the_stored_disclosure_and_records_it(signed_in, rated, database):
    cohort, leader = rated
    with database.transaction() as s:
        close_cohort(s, s.merge(cohort), "t")
    url = urls(cohort, leader)["leader report"]
    first, again = signed_in.get(url), signed_in.get(url)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    with database.session() as s:
        (artefact,) = s.scalars(select(Artefact).where(Artefact.kind == "report_pdf"))
        assert artefact.content == first.data
        actors = s.scalars(select(Disclosure.actor).where(Disclosure.artefact_id == artefact.id))
        assert list(actors) == ["coach@example.org"] * 2
        (response_set,) = artefact.response_sets
        assert response_set.counts == {"self": 1, "manager": 1, "peer": 3}


def test_a_release_is_in_the_ledger_like_any_other_disclosure(signed_in, rated, database):
    cohort, leader = rated
    with database.transaction() as s:
        close_cohort(s, s.merge(cohort), "t")
    moderation = f"/cohorts/{cohort.slug}/leaders/{leader.id}/comments"
    page = signed_in.get(moderation).get_data(as_text=True)
    released = signed_in.post(
        f"/cohorts/{cohort.slug}/leaders/{leader.id}/release",
        data={"csrf_token": csrf_token(page)},
    )
    assert released.status_code == 302
    coach_pdf = signed_in.get(urls(cohort, leader)["leader report"]).data
    with database.session() as s:
        from assessment.models import ReportRelease

        assert s.scalar(select(ReportRelease.pdf)) == coach_pdf
        assert s.scalar(select(func.count()).select_from(ResponseSet)) == 1
