"""CSV imports of leaders, raters and responses: all or nothing, every problem located, files
from the wild.

A response file (``cl360 responses import``) is refused with a ``row N, column X: message`` line
for each kind of bad row, and leaves the database exactly as it was.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from sqlalchemy import func, select

from assessment.cli import cli
from assessment.cohorts import add_leader, create_cohort
from assessment.imports import (
    ImportProblems,
    import_leaders,
    import_raters,
    import_responses,
    read_rows,
)
from assessment.models import (
    Answer,
    AuditEvent,
    Cohort,
    Comment,
    Invitation,
    Leader,
    Prediction,
    Response,
)
from assessment.responses import leader_responses
from tests.builders import (
    COACH_EMAIL,
    COACH_PASSWORD,
    HEADER,
    NOW_CSV,
    csrf_token,
    four_leaders,
)
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
        (b"full name,address\nA,b@example.org\n", "missing: this column is required"),
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
    assert "row 3, column name: required" in text
    assert "row 4, column email: 'not-an-email' is not a valid email address" in text
    assert "row 6, column email: dup@example.org is already on row 5" in text
    assert "row 7, column email: existing@example.org is already a leader in this cohort" in text
    assert "row 8, column (row): 4 values, but the header has 3 columns" in text
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
    assert "row 2, column leader_email: nobody@example.org is not a leader in this cohort" in found
    assert (
        "row 3, column relationship: 'boss' is not one of: manager, peer, direct_report, other"
        in found
    )
    assert "row 4, column relationship: 'self' is not one of" in found
    assert "row 5, column rater_email: pat@example.org is already invited" in found
    assert "row 6, column rater_email: a leader cannot rate themselves" in found
    assert "row 8, column rater_email: e@example.org is already on row 7" in found
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
    assert "row 4, column email: 'bad' is not a valid email address" in result.output
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
    """5,000 leaders, then 5,000 raters: each request only stores the file, and a job on the
    gunicorn worker's runner imports it."""
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
        job = response.headers["Location"].rsplit("/", 1)[1]
        deadline = time.monotonic() + 300
        while not (status := browser.client.get(f"/jobs/{job}.json").json())["finished"]:
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["summary"] == f"5000 {kind} imported.", status
    browser.close()
    session.expire_all()
    assert count(session, Leader) == 5001 and count(session, Invitation) == 5000


# -- responses (``cl360 responses import``) --------------------------------------------


@pytest.fixture
def hand_cohort(database) -> Cohort:
    return four_leaders(database)


def table_counts(session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (Response, Answer, Comment, Prediction, AuditEvent)
    }


def try_import(database, cohort: Cohort, text: str | bytes) -> list[str]:
    """Import a file expected to fail; returns its problem lines, checking nothing changed."""
    data = text.encode() if isinstance(text, str) else text
    with database.session() as session:
        before = table_counts(session)
    with pytest.raises(ImportProblems) as caught, database.transaction() as session:
        import_responses(session, session.merge(cohort), data, actor="test")
    with database.session() as session:
        assert table_counts(session) == before
    lines = [str(problem) for problem in caught.value.problems]
    assert all(re.fullmatch(r"row \d+, column .+: .+", line) for line in lines), lines
    return lines


GOOD = "ann@example.org,peer,4,4,2,5,4,,,\n"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("zed@example.org,peer,4,4,2,5,4,,,\n", "row 3, column leader: no leader with email"),
        (",peer,4,4,2,5,4,,,\n", "row 3, column leader: missing"),
        ("ann@example.org,,4,4,2,5,4,,,\n", "row 3, column relationship: missing"),
        ("ann@example.org,boss,4,4,2,5,4,,,\n", "row 3, column relationship: 'boss' is not a rater group"),
        ("ann@example.org,peer,6,4,2,5,4,,,\n", "row 3, column a1: 6 is off the scale (1 to 5)"),
        ("ann@example.org,peer,0,4,2,5,4,,,\n", "row 3, column a1: 0 is off the scale"),
        ("ann@example.org,peer,6.0,4,2,5,4,,,\n", "row 3, column a1: 6.0 is off the scale (1 to 5)"),
        ("ann@example.org,peer,4,3.5,2,5,4,,,\n", "row 3, column a2: '3.5' is not a whole number"),
        ("ann@example.org,peer,4,4,x,5,4,,,\n", "row 3, column a3: 'x' is not a whole number"),
        ("ann@example.org,peer,4,4,nan,5,4,,,\n", "row 3, column a3: 'nan' is not a whole number"),
        ("ann@example.org,peer,4,4,2,inf,4,,,\n", "row 3, column b1: 'inf' is not a whole number"),
        ("ann@example.org,peer,4,4,2,5\n", "row 3, column (row): 6 values, but the header has 10"),
        ("ann@example.org,peer,4,4,2,5,4," + "x" * 4001 + ",,\n", "row 3, column note: longer than 4000"),
    ],
)  # fmt: skip
def test_each_bad_row_rejects_the_whole_file(database, hand_cohort, row, expected):
    """The first data row (row 2) is good; the bad one is row 3."""
    lines = try_import(database, hand_cohort, HEADER + GOOD + row)
    assert len(lines) == 1
    assert lines[0].startswith(expected)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("ann@example.org,peer,4,4,2,5,4,,3,\n", "predicted:a: predictions belong on the leader's self-assessment row"),
        ("ann@example.org,manager,4,4,2,5,4,,,4\n", "predicted:b: predictions belong on the leader's self-assessment row"),
        ("ann@example.org,self,4,4,2,5,4,,6,\n", "predicted:a: 6 is off the scale (1 to 5)"),
        ("ann@example.org,self,4,4,2,5,4,,0,\n", "predicted:a: 0 is off the scale (1 to 5)"),
        ("ann@example.org,self,4,4,2,5,4,,,3.5\n", "predicted:b: '3.5' is not a whole number"),
        ("ann@example.org,self,4,4,2,5,4,,na,\n", "predicted:a: 'na' is not a whole number"),
    ],
)  # fmt: skip
def test_bad_predictions_reject_the_whole_file(database, hand_cohort, row, expected):
    """Only the leader predicts, on their self row, a whole point of the scale (row 2 is good)."""
    assert try_import(database, hand_cohort, HEADER + GOOD + row) == [f"row 3, column {expected}"]


def test_predictions_are_optional_and_blank_means_none(database, hand_cohort):
    with_predictions = (
        HEADER
        + "ann@example.org,self,4,4,2,5,4,,,\n"  # blank: no prediction
        + "ben@example.org,self,4,4,2,5,4,, 4 ,\n"
        + "cat@example.org,self,4,4,2,5,4,,2.0,5\n"  # a spreadsheet's 2.0 is the point 2
        + "cat@example.org,peer,4,4,2,5,4,,,\n"  # blank on an observer row: fine
    )
    # Prediction columns may be left out, or given for some dimensions only, in any case.
    without = "leader,relationship,a1,a2,a3,b1,b2,PREDICTED:B\ndan@example.org,self,3,3,3,3,3,1\n"
    with database.transaction() as session:
        for text in (with_predictions, without):
            import_responses(session, session.merge(hand_cohort), text.encode(), actor="test")
    with database.session() as session:
        stored = session.execute(
            select(Leader.name, Prediction.dimension_id, Prediction.value)
            .join(Response, Response.id == Prediction.response_id)
            .join(Leader, Leader.id == Response.leader_id)
        ).all()
    assert sorted(stored) == [("Ben", "a", 4), ("Cat", "a", 2), ("Cat", "b", 5), ("Dan", "b", 1)]


def test_bad_header_columns_are_named(database, hand_cohort):
    lines = try_import(
        database, hand_cohort, "leader,relationship,a1,a2,a4,b1,b2,b1,predicted:zzz\n" + GOOD
    )
    unknown = "unknown column: not an item, open question or predicted:<dimension> id"
    assert f"row 1, column a4: {unknown}" in lines
    assert f"row 1, column predicted:zzz: {unknown}" in lines
    assert "row 1, column b1: this column is given twice" in lines
    assert any(line.startswith("row 1, column a3: missing") for line in lines)


def test_every_problem_is_reported_one_line_each(database, hand_cohort):
    lines = try_import(
        database,
        hand_cohort,
        HEADER
        + GOOD
        + "zed@example.org,peer,9,4,2,5,4,,,\n"  # two problems on row 3
        + "ann@example.org,self,4,4,2,5,4,,,\n"
        + "ann@example.org,self,4,4,2,5,4,,,\n",  # a second self-assessment
    )
    assert lines == [
        "row 3, column leader: no leader with email 'zed@example.org' in this cohort",
        "row 3, column a1: 9 is off the scale (1 to 5)",
        "row 5, column relationship: this leader already has a self-assessment",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"PK\x03\x04binary", "spreadsheet workbook"),
        (HEADER.encode(), "the file has a header row but no data rows"),
    ],
)
def test_files_that_are_not_response_tables(database, hand_cohort, data, expected):
    (line,) = try_import(database, hand_cohort, data)
    assert expected in line


def test_a_self_assessment_already_stored_cannot_be_imported_again(database, hand_cohort):
    first = HEADER + "ann@example.org,self,4,4,2,5,4,,,\n"
    with database.transaction() as session:
        import_responses(session, session.merge(hand_cohort), first.encode(), actor="test")
    (line,) = try_import(database, hand_cohort, HEADER + "ANN@example.org,self,3,3,3,3,3,,,\n")
    assert line == "row 2, column relationship: this leader already has a self-assessment"


def test_imported_responses_are_stored_like_web_submissions(database, hand_cohort):
    text = (
        "\ufeff" + HEADER.replace(",", ";")  # a byte-order mark and semicolons, as Excel writes
        + "ANN@Example.org;Direct report;4;n/a;2;;4;Steady under pressure;;\n"
        + "ann@example.org;self;5;5;1;5;5;;;\n"
    )  # fmt: skip
    with database.transaction() as session:
        summary = import_responses(session, session.merge(hand_cohort), text.encode(), actor="cli")
    assert str(summary) == "imported 2 responses for 1 leaders (self 1, direct_report 1)"
    with database.session() as session:
        ann = session.scalars(select(Leader).where(Leader.email == "ann@example.org")).one()
        responses = session.scalars(select(Response).where(Response.leader_id == ann.id)).all()
        assert all(re.fullmatch(r"[0-9a-f]{32}", r.id) for r in responses)
        assert {c.text for r in responses for c in r.comments} == {"Steady under pressure"}
        scored = sorted(leader_responses(session, ann), key=lambda r: r.relationship)
        assert scored[0].relationship == "direct_report"
        assert scored[0].answers == {"a1": 4, "a2": None, "a3": 2, "b1": None, "b2": 4}
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "responses.import")
        ).one()
        assert event.actor == "cli" and event.detail["responses"] == 2


def test_command_line_import(runner, database, hand_cohort, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "zed@example.org,peer,4,4,2,5,4,,,\n", encoding="utf-8")
    result = runner.invoke(cli, ["responses", "import", "--cohort", hand_cohort.slug, str(bad)])
    assert result.exit_code == 1
    assert "row 2, column leader: no leader with email 'zed@example.org'" in result.output
    assert "nothing imported (1 problems)" in result.output
    good = tmp_path / "good.csv"
    good.write_text(NOW_CSV, encoding="utf-8")
    result = runner.invoke(cli, ["responses", "import", "--cohort", hand_cohort.slug, str(good)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(
        "imported 16 responses for 4 leaders (self 4, manager 1, peer 5, direct_report 5, "
        "other 1) into cohort transfer"
    )
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(cli, ["responses", "import", "--cohort", "nope", str(good)])
    assert result.exit_code != 0 and "no cohort with the slug 'nope'" in result.output
