"""CSV imports of leaders and raters: all or nothing, every problem located, files from the wild."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from assessment.cli import cli
from assessment.cohorts import add_leader, create_cohort
from assessment.imports import ImportProblems, import_leaders, import_raters, read_rows
from assessment.models import AuditEvent, Cohort, Invitation, Leader
from tests.conftest import COACH_EMAIL, COACH_PASSWORD, csrf_token
from tests.live import Browser

LEADERS = (
    "name,email,department\nAsha Patel,asha@example.org,Maternity\nTom Reed,tom@example.org,\n"
)


@pytest.fixture
def cohort(database, coach, instrument) -> Cohort:
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Import cohort", instrument)
        add_leader(s, cohort, "Existing Leader", "existing@example.org")
        return cohort


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def problems_of(call) -> list[str]:
    with pytest.raises(ImportProblems) as raised:
        call()
    return [str(p) for p in raised.value.problems]


def test_leaders_are_imported_with_departments(database, cohort, session):
    with database.transaction() as s:
        leaders = import_leaders(s, s.merge(cohort), LEADERS.encode(), actor="coach@example.org")
    assert [(x.name, x.email, x.department) for x in leaders] == [
        ("Asha Patel", "asha@example.org", "Maternity"),
        ("Tom Reed", "tom@example.org", None),
    ]
    assert session.scalar(
        select(AuditEvent.detail).where(AuditEvent.action == "leaders.import")
    ) == {"count": 2}


@pytest.mark.parametrize(
    "data",
    [
        ("\ufeff" + LEADERS).encode("utf-8"),  # Excel's "CSV UTF-8" has a byte-order mark
        LEADERS.replace(",", ";").encode(),  # European Excel uses semicolons
        LEADERS.replace(",", "\t").encode(),
        LEADERS.replace("\n", "\r\n").encode("utf-16"),  # "Unicode text" with a BOM
        "Name,E-mail,Team\nAsha Patel,asha@example.org,Maternity\nTom Reed,tom@example.org,\n".encode(
            "cp1252"
        ),
    ],
    ids=["utf8-bom", "semicolon", "tab", "utf16", "cp1252-aliases"],
)
def test_encodings_delimiters_and_header_spellings(data):
    rows, problems = read_rows(data, *_leader_columns())
    assert problems == []
    assert [r.values["email"] for r in rows] == ["asha@example.org", "tom@example.org"]
    assert rows[0].values["department"] == "Maternity"


def _leader_columns():
    from assessment.imports import LEADER_COLUMNS, LEADER_REQUIRED

    return LEADER_COLUMNS, LEADER_REQUIRED


def test_accented_names_survive_windows_encoding(database, cohort):
    data = "name,email\nJosé Núñez,jose@example.org\n".encode("cp1252")
    with database.transaction() as s:
        (leader,) = import_leaders(s, s.merge(cohort), data, actor="x")
    assert leader.name == "José Núñez"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
        (b"name,email\n", "no data rows"),
        (b"full name,address\nA,b@example.org\n", "required column is missing"),
    ],
)
def test_files_that_are_not_usable_csv_get_a_clear_error(database, cohort, session, data, message):
    with database.transaction() as s:
        found = problems_of(lambda: import_leaders(s, s.merge(cohort), data, actor="x"))
    assert any(message in p for p in found), found
    assert count(session, Leader) == 1


def test_every_bad_row_is_reported_and_nothing_is_added(database, cohort, session):
    data = (
        b"name,email,department\n"
        b"Good Person,good@example.org,A\n"
        b",noname@example.org,A\n"  # row 3: name missing
        b"Bad Email,not-an-email,A\n"  # row 4
        b"Dup One,dup@example.org,A\n"
        b"Dup Two,DUP@example.org,A\n"  # row 6: duplicate within the file (case-insensitive)
        b"Existing,existing@example.org,A\n"  # row 7: already in the cohort
        b"Too,many,values,here\n"  # row 8
    )
    with database.transaction() as s:
        found = problems_of(lambda: import_leaders(s, s.merge(cohort), data, actor="x"))
    text = "\n".join(found)
    assert "row 3, name: required" in text
    assert "row 4, email: 'not-an-email' is not a valid email address" in text
    assert "row 6, email: dup@example.org is already on row 5" in text
    assert "row 7, email: existing@example.org is already a leader in this cohort" in text
    assert "row 8: 4 values but 3 columns" in text
    assert count(session, Leader) == 1  # not even "Good Person"


def test_raters_import_with_relationship_words_and_checks(database, cohort, session):
    good = (
        b"leader_email,rater_name,rater_email,relationship\n"
        b"existing@example.org,Pat Peer,pat@example.org,Peer\n"
        b"existing@example.org,Dee Report,dee@example.org,direct report\n"
        b"existing@example.org,Max Manager,max@example.org,MANAGER\n"
    )
    with database.transaction() as s:
        created = import_raters(s, s.merge(cohort), good, actor="x")
    assert sorted(i.relationship_.value for i in created) == ["direct_report", "manager", "peer"]
    assert all(i.invited_at is None for i in created)  # mailed later, on purpose

    bad = (
        b"leader_email,rater_name,rater_email,relationship\n"
        b"nobody@example.org,A,a@example.org,peer\n"  # row 2: unknown leader
        b"existing@example.org,B,b@example.org,boss\n"  # row 3: unknown relationship
        b"existing@example.org,C,c@example.org,self\n"  # row 4: self is not a rater group
        b"existing@example.org,Pat Again,pat@example.org,peer\n"  # row 5: already invited
        b"existing@example.org,Me,existing@example.org,peer\n"  # row 6: the leader
        b"existing@example.org,E,e@example.org,other\n"
        b"existing@example.org,E2,e@example.org,peer\n"  # row 8: duplicate in file
    )
    with database.transaction() as s:
        found = "\n".join(problems_of(lambda: import_raters(s, s.merge(cohort), bad, actor="x")))
    assert "row 2, leader_email: nobody@example.org is not a leader in this cohort" in found
    assert "row 3, relationship: 'boss' is not one of: manager, peer, direct_report, other" in found
    assert "row 4, relationship: 'self' is not one of" in found
    assert "row 5, rater_email: pat@example.org is already invited" in found
    assert "row 6, rater_email: a leader cannot rate themselves" in found
    assert "row 8, rater_email: e@example.org is already on row 7" in found
    assert count(session, Invitation) == 3


def test_web_upload_reports_problems_in_a_table_and_imports_good_files(signed_in, cohort, session):
    url = f"/cohorts/{cohort.slug}"
    page = signed_in.get(url).get_data(as_text=True)
    token = csrf_token(page)
    bad = signed_in.post(
        url + "/import/leaders",
        data={
            "leaders-csrf_token": token,
            "leaders-file": (io.BytesIO(b"name,email\nX,broken\n"), "leaders.csv"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Nothing was imported" in html and "<td>2</td><td>email</td>" in html
    good = signed_in.post(
        url + "/import/leaders",
        data={"leaders-csrf_token": token, "leaders-file": (io.BytesIO(LEADERS.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    assert count(session, Leader) == 3
    missing = signed_in.post(
        url + "/import/raters",
        data={"raters-csrf_token": token},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400 and "Choose a CSV file" in missing.get_data(as_text=True)
    forged = signed_in.post(
        url + "/import/leaders",
        data={"leaders-file": (io.BytesIO(LEADERS.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 400 and count(session, Leader) == 3


def test_cli_imports_all_or_nothing(runner, cohort, session, tmp_path):
    path = tmp_path / "leaders.csv"
    path.write_text(LEADERS + "Bad,bad\n", encoding="utf-8")
    result = runner.invoke(cli, ["leaders", "import", "--cohort", cohort.slug, str(path)])
    assert result.exit_code == 1
    assert "row 4, email: 'bad' is not a valid email address" in result.output
    assert count(session, Leader) == 1
    path.write_text(LEADERS, encoding="utf-8")
    result = runner.invoke(cli, ["leaders", "import", "--cohort", cohort.slug, str(path)])
    assert result.exit_code == 0 and "imported 2 leaders" in result.output
    raters = tmp_path / "raters.csv"
    raters.write_text(
        "leader_email,rater_name,rater_email,relationship\nasha@example.org,P,p@example.org,peer\n"
    )
    result = runner.invoke(cli, ["raters", "import", "--cohort", cohort.slug, str(raters)])
    assert result.exit_code == 0 and "invitations send" in result.output
    unknown = runner.invoke(cli, ["raters", "import", "--cohort", "nope", str(raters)])
    assert unknown.exit_code == 1 and "no cohort" in unknown.output


def test_the_largest_allowed_files_import_through_a_real_gunicorn_worker(
    gunicorn_server, cohort, session
):
    """5,000 leaders, then 5,000 raters, each within one request that gunicorn does not kill."""
    browser = Browser(gunicorn_server)
    fields = browser.open_form("/login")
    signed_in = browser.post("/login", {**fields, "email": COACH_EMAIL, "password": COACH_PASSWORD})
    assert signed_in.status_code == 302
    page = browser.client.get(f"/cohorts/{cohort.slug}").text
    token = re.search(r'name="leaders-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    leaders = "name,email\n" + "".join(f"Leader {n},leader{n}@example.org\n" for n in range(5000))
    raters = "leader_email,rater_name,rater_email,relationship\n" + "".join(
        f"leader{n}@example.org,Rater {n},rater{n}@example.org,peer\n" for n in range(5000)
    )
    for kind, text in (("leaders", leaders), ("raters", raters)):
        response = browser.client.post(
            f"/cohorts/{cohort.slug}/import/{kind}",
            data={f"{kind}-csrf_token": token},
            files={f"{kind}-file": (f"{kind}.csv", text.encode(), "text/csv")},
        )
        assert response.status_code == 302, response.text[:500]
    browser.close()
    session.expire_all()
    assert count(session, Leader) == 5001 and count(session, Invitation) == 5000
