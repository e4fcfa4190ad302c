"""``cl360``: the Flask CLI group, with the product's own commands beside ``run`` and ``routes``.

Each command wraps a plain function from the domain modules; the command only parses
arguments, opens one transaction and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup

from assessment import migrate
from assessment.accounts import AccountError, create_coach
from assessment.app import create_app
from assessment.database import Database
from assessment.demo import (
    DEMO_COACH_EMAIL,
    DEMO_COACH_PASSWORD,
    TRY_LEADER,
    load_demo,
    write_sample_reports,
)
from assessment.instruments import check_files, load_instrument


def _database() -> Database:
    return current_app.extensions["cl360.db"]


@click.group(cls=FlaskGroup, create_app=lambda: create_app())
def cli() -> None:
    """Compassionate Leadership 360: 360-degree feedback for compassionate leadership."""


@cli.group()
def db() -> None:
    """Create or update the database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(_database().url, revision)
    click.echo(f"database is at revision {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(_database().url, revision)


@db.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    migrate.current(_database().url)


@cli.command("create-coach")
@click.argument("email")
@click.password_option(help="Asked for when not given (with confirmation).")
def create_coach_command(email: str, password: str) -> None:
    """Create a coach account that can sign in to the web app."""
    try:
        with _database().transaction() as session:
            coach = create_coach(session, email, password)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"coach {coach.email} created; sign in at {current_app.extensions['cl360.settings'].base_url}/login"
    )


@cli.group()
def instruments() -> None:
    """Work with questionnaire (instrument) files."""


@instruments.command("check", with_appcontext=False)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def instruments_check(paths: tuple[Path, ...]) -> None:
    """Validate instrument files: a summary line per good file, a line per problem otherwise."""
    lines, all_valid = check_files(list(paths))
    for line in lines:
        click.echo(line)
    sys.exit(0 if all_valid else 1)


@cli.command("demo")
@click.option(
    "--reports",
    "reports_folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("sample-reports"),
    show_default=True,
    help="Where to write the sample PDF reports.",
)
@click.option("--no-reports", is_flag=True, help="Load the demo cohort without writing PDFs.")
def demo_command(reports_folder: Path, no_reports: bool) -> None:
    """Load a labelled demo cohort of synthetic leaders (safe to run again) and write sample reports."""
    settings = current_app.extensions["cl360.settings"]
    instrument = load_instrument(settings.instruments_path / "compassionate-leadership.v1.yaml")
    with _database().transaction() as session:
        result = load_demo(session, instrument)
        cohort = result.cohort
        click.echo(
            f"{'created' if result.created else 'found existing'} demo cohort '{cohort.name}' "
            f"with {len(cohort.leaders)} leaders"
        )
        links = {kind: f"{settings.base_url}/r/{token}" for kind, token in result.try_links.items()}
    if not no_reports:
        with _database().transaction() as session:
            cohort = session.merge(cohort)
            written = write_sample_reports(session, cohort, reports_folder)
        click.echo(f"wrote {len(written)} sample reports to {reports_folder.resolve()}")
    click.echo(
        f"coach sign-in: {settings.base_url}/login  ({DEMO_COACH_EMAIL} / {DEMO_COACH_PASSWORD})"
    )
    descriptions = {
        "self": f"{TRY_LEADER}'s self-assessment",
        "peer": f"rate {TRY_LEADER} as a peer",
    }
    for kind, link in links.items():
        click.echo(f"try it yourself, {descriptions[kind]}: {link}")
