"""The command line: coach accounts, instrument checks, migrations and the demo."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from assessment.cli import cli
from assessment.demo import DEMO_COACH_EMAIL, LEADERS
from assessment.models import Coach, Cohort, Leader, Response
from tests.builders import DEFAULT_INSTRUMENT, PULSE_INSTRUMENT


def test_create_coach_asks_for_a_password_and_refuses_duplicates(runner, session):
    result = runner.invoke(
        cli,
        ["create-coach", "Lead.Coach@Example.org"],
        input="a good long password\na good long password\n",
    )
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Coach.email)) == "lead.coach@example.org"
    again = runner.invoke(
        cli,
        ["create-coach", "lead.coach@example.org"],
        input="another password!\nanother password!\n",
    )
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(cli, ["create-coach", "x@example.org"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output


def test_instruments_check_reports_good_and_bad_files(runner, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\x00\x01binary")
    good = runner.invoke(
        cli, ["instruments", "check", str(DEFAULT_INSTRUMENT), str(PULSE_INSTRUMENT)]
    )
    assert good.exit_code == 0
    assert good.output.count(": ok: ") == 2
    mixed = runner.invoke(cli, ["instruments", "check", str(DEFAULT_INSTRUMENT), str(bad)])
    assert mixed.exit_code == 1
    assert f"{bad}: (file): " in mixed.output and "Traceback" not in mixed.output


def test_demo_is_idempotent_and_writes_reports(runner, client, session, tmp_path: Path):
    first = runner.invoke(cli, ["demo", "--reports", str(tmp_path / "samples")])
    assert first.exit_code == 0, first.output
    assert "created demo cohort" in first.output and "/r/" in first.output
    leader_page = re.search(r"own page .*: http://\S+(/l/\S+)", first.output).group(1)
    assert "Mei Chen" in client.get(leader_page).get_data(as_text=True)
    second = runner.invoke(cli, ["demo", "--no-reports"])
    assert second.exit_code == 0 and "found existing" in second.output
    assert session.scalar(select(func.count()).select_from(Cohort)) == 2  # closed, and to try
    assert session.scalar(select(func.count()).select_from(Leader)) == len(LEADERS) >= 12
    assert set(session.scalars(select(Cohort.is_demo))) == {True}
    assert (
        session.scalar(
            select(func.count()).select_from(Coach).where(Coach.email == DEMO_COACH_EMAIL)
        )
        == 1
    )
    pdfs = sorted((tmp_path / "samples").glob("*.pdf"))
    # Every leader of the closed cohort; Mei Chen is in the open one, for trying it yourself.
    assert len(pdfs) == len(LEADERS) - 1 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    responses = session.scalar(select(func.count()).select_from(Response))
    assert responses > 100


def test_db_upgrade_is_safe_to_repeat(runner):
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0 and "head" in result.output
