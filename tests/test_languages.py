"""A second language: the Spanish questionnaire and rater pages, pooled into the same scores."""

from __future__ import annotations

import gettext
import re

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from assessment.cohorts import add_leader, cohort_languages, create_cohort
from assessment.config import PROJECT_ROOT
from assessment.core.instruments import load_instrument, translation_problems
from assessment.invitations import create_invitation, new_link
from assessment.mail import invitation_message
from assessment.models import Cohort, Invitation, LinkPurpose, Relationship
from assessment.responses import leader_responses
from tests.builders import SPANISH, csrf_token, draft_ratings

CATALOGUE = PROJECT_ROOT / "assessment" / "translations" / "es" / "LC_MESSAGES"


@pytest.fixture
def spanish():
    return load_instrument(SPANISH)


def test_the_spanish_file_is_the_same_questionnaire_item_for_item(instrument, spanish):
    assert translation_problems(instrument, spanish) == []
    assert spanish.key == instrument.key and spanish.language == "es"
    assert [i.id for i in spanish.items] == [i.id for i in instrument.items]
    data = spanish.to_data()
    data["items"][3]["reverse"] = not data["items"][3]["reverse"]
    data["items"][3].pop("restated", None)  # only a reversed statement is restated
    data["items"].pop()
    changed = type(spanish).from_data(data)
    assert translation_problems(instrument, changed) == ["its items differ"]


def test_compiled_catalogue_matches_its_source():
    """The committed .mo must be compiled from the committed .po (pybabel compile)."""
    with (CATALOGUE / "messages.po").open("rb") as source:
        po = {m.id: m.string for m in read_po(source) if m.id}
    with (CATALOGUE / "messages.mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    assert all(text for text in po.values()), "untranslated messages"
    for msgid, text in po.items():
        assert mo.gettext(msgid) == text


@pytest.fixture
def bilingual(database, coach, instrument, spanish):
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Bilingüe", instrument, translations=[spanish])
        leader = add_leader(s, cohort, "Lucía Romero", "lucia@example.org")
        spanish_rater = create_invitation(s, leader, Relationship.PEER, actor="t", language="es")
        es_token = new_link(s, spanish_rater, LinkPurpose.SHOWN, actor="t")
        english_rater = create_invitation(s, leader, Relationship.PEER, actor="t")
        en_token = new_link(s, english_rater, LinkPurpose.SHOWN, actor="t")
        return cohort, f"/r/{es_token}", f"/r/{en_token}"


def test_cohort_creation_freezes_the_translations(signed_in, session):
    page = signed_in.get("/cohorts").get_data(as_text=True)
    assert "English, español" in page or "español, English" in page
    response = signed_in.post(
        "/cohorts",
        data={
            "name": "Equipo",
            "instrument": "compassionate-leadership@1",
            "language": "es",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302
    cohort = session.scalar(select(Cohort))
    assert cohort.instrument["language"] == "es" and cohort_languages(cohort) == ["es", "en"]
    pulse = signed_in.post(
        "/cohorts",
        data={
            "name": "Pulse",
            "instrument": "compassionate-leadership-pulse@1",
            "language": "es",
            "csrf_token": csrf_token(page),
        },
    )
    assert pulse.status_code == 400 and "not available in that language" in pulse.get_data(
        as_text=True
    )


def test_spanish_invitation_shows_the_spanish_form(client, bilingual, spanish):
    _, es_link, _ = bilingual
    page = client.get(es_link).get_data(as_text=True)
    assert '<html lang="es">' in page
    assert "Opiniones sobre Lucía Romero" in page
    assert "Tus respuestas son anónimas" in page
    assert spanish.items[0].observer_text("Lucía Romero") in page
    assert "Totalmente de acuerdo" in page and "Enviar mis respuestas" in page
    assert 'value="language:en"' in page and ">English<" in page


def test_switching_language_keeps_answers_and_scores_pool(
    client, bilingual, instrument, session, database
):
    cohort, es_link, en_link = bilingual
    first = instrument.items[0].id
    page = client.get(en_link).get_data(as_text=True)
    switched = client.post(
        en_link, data={first: "2", "action": "language:es", "csrf_token": csrf_token(page)}
    )
    assert switched.status_code == 302
    page = client.get(en_link).get_data(as_text=True)
    assert "Opiniones sobre" in page and re.search(rf'name="{first}" value="2" checked', page)
    assert draft_ratings(client, session) == {first: 2}
    for link in (es_link, en_link):
        page = client.get(link).get_data(as_text=True)
        data = {item.id: "4" for item in instrument.items}
        response = client.post(
            link, data={**data, "action": "submit", "csrf_token": csrf_token(page)}
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/r/thanks?lang=es")
    thanks = client.get("/r/thanks?lang=es").get_data(as_text=True)
    assert "Gracias" in thanks
    with database.session() as s:
        responses = leader_responses(s, s.get(Cohort, cohort.id).leaders[0])
    assert len(responses) == 2 and all(r.answers[first] == 4 for r in responses)


def test_autosave_stores_a_draft_without_a_page(client, bilingual, instrument, session):
    _, _, en_link = bilingual
    page = client.get(en_link).get_data(as_text=True)
    assert 'src="/static/rate.js"' in page and "<script>" not in page  # CSP: no inline script
    first = instrument.items[0].id
    response = client.post(
        en_link, data={first: "5", "action": "autosave", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 204
    assert draft_ratings(client, session) == {first: 5}
    bad = client.post(
        en_link, data={first: "9", "action": "autosave", "csrf_token": csrf_token(page)}
    )
    assert bad.status_code == 422


def test_spanish_invitation_mail(database, bilingual):
    with database.session() as s:
        invitation = s.scalar(select(Invitation).where(Invitation.language == "es"))
        message = invitation_message(invitation, "http://x/r/abc", reminder=True)
    assert message.subject == "Recordatorio: Lucía Romero te pide tu opinión"
    assert "El enlace que te enviamos antes también funciona" in message.body
