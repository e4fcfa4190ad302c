"""``cl360``: the Flask CLI group, with the product's own commands beside ``run`` and ``routes``.

Each command wraps a plain function from the domain modules; the command only parses
arguments, opens one transaction and prints.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from flask.cli import FlaskGroup

from assessment import disclosures, migrate
from assessment.accounts import AccountError, change_password, create_coach, find_coach
from assessment.app import create_app
from assessment.batch import run_items
from assessment.cohorts import CohortError, find_cohort
from assessment.core.instruments import check_files, load_instrument
from assessment.core.profiles import TooFewLeaders
from assessment.database import Database
from assessment.demo import (
    DEMO_COACH_EMAIL,
    DEMO_COACH_PASSWORD,
    TRY_LEADER,
    load_demo,
    write_sample_reports,
)
from assessment.disclosures import CohortOpen, content_chunks
from assessment.imports import ImportProblems, import_responses
from assessment.mail import MailError, Postman
from assessment.results import fit_profile_model


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


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(file: Path) -> None:
    """Write a consistent copy of the whole database to FILE; safe while the app is serving.
    The copy holds personal data: keep it encrypted (docs/operations.md)."""
    from assessment.backups import BackupError, backup

    try:
        kind = backup(_database().url, file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up the {kind} database to {file} ({file.stat().st_size:,} bytes)")


@db.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def db_restore(file: Path, yes: bool) -> None:
    """Replace everything in the database with the backup in FILE (made by `db backup`)."""
    from assessment.backups import BackupError, restore

    if not yes:
        click.confirm(f"This replaces everything in the database with {file}. Go on?", abort=True)
    try:
        kind = restore(_database().url, file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored the {kind} database from {file}")


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


@cli.command("set-password")
@click.argument("email")
@click.password_option(help="Asked for when not given (with confirmation).")
def set_password_command(email: str, password: str) -> None:
    """Give a coach a new password (e.g. one who forgot theirs); signs them out everywhere."""
    try:
        with _database().transaction() as session:
            coach = find_coach(session, email)
            if coach is None:
                raise AccountError(f"there is no coach with the email {email}")
            change_password(session, coach, password)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"new password set for {coach.email}; every earlier session has ended")


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
            f"with {len(cohort.leaders)} leaders (closed, so its reports can be read), and "
            f"'{result.trial.name}' (open) for trying it yourself"
        )
        links = {kind: settings.base_url + path for kind, path in result.try_links.items()}
    if not no_reports:
        with _database().transaction() as session:
            cohort = session.merge(cohort)
            written = write_sample_reports(session, cohort, reports_folder)
        click.echo(f"wrote {len(written)} sample reports to {reports_folder.resolve()}")
    click.echo(
        f"coach sign-in: {settings.base_url}/login  ({DEMO_COACH_EMAIL} / {DEMO_COACH_PASSWORD})"
    )
    descriptions = {
        "leader": f"{TRY_LEADER}'s own page (nominate raters, see who has responded)",
        "self": f"{TRY_LEADER}'s self-assessment",
        "peer": f"rate {TRY_LEADER} as a peer",
    }
    for kind, link in links.items():
        click.echo(f"try it yourself, {descriptions[kind]}: {link}")


# -- Running a campaign (issue 5): bulk imports, invitations and scheduled reminders -----------


def _postman() -> Postman:
    settings = current_app.extensions["cl360.settings"]
    return Postman(settings.mail, settings.base_url)


def cohort_options(help: str = "The cohort's slug (from its web address)."):
    """``--cohort SLUG`` and, for a slug that several coaches use, ``--coach EMAIL``."""

    def decorate(command):
        command = click.option(
            "--coach",
            "coach_email",
            default=None,
            help="Whose cohort it is, when several coaches have one with this slug.",
        )(command)
        return click.option("--cohort", "slug", required=True, help=help)(command)

    return decorate


def _cohort(session, slug: str, coach_email: str | None):
    try:
        return find_cohort(session, slug, coach_email)
    except CohortError as error:
        raise click.ClickException(str(error)) from None


def _refused(path: Path, error: ImportProblems) -> NoReturn:
    """Every problem of a file an import refused, a line each, as compilers print them."""
    for problem in error.problems:
        click.echo(f"{path}: {problem}", err=True)
    raise click.ClickException(f"{path}: nothing imported ({len(error.problems)} problems)")


def _import(kind: str, slug: str, coach_email: str | None, path: Path) -> None:
    from assessment.imports import import_leaders, import_raters

    importer = import_leaders if kind == "leaders" else import_raters
    try:
        with _database().transaction() as session:
            cohort = _cohort(session, slug, coach_email)
            created = importer(session, cohort, path.read_bytes(), actor="cli")
            count = len(created)
    except ImportProblems as error:
        _refused(path, error)
    click.echo(f"imported {count} {kind} into {slug}")
    if kind == "raters":
        click.echo(f"send their invitations with: cl360 invitations send --cohort {slug}")


@cli.group()
def leaders() -> None:
    """Leaders of a cohort."""


@leaders.command("import")
@cohort_options("The cohort's slug (from its address).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def leaders_import(slug: str, coach_email: str | None, path: Path) -> None:
    """Add leaders from a CSV file (name, email, optional department); all or nothing."""
    _import("leaders", slug, coach_email, path)


@leaders.command("links")
@cohort_options("The cohort's slug.")
def leaders_links(slug: str, coach_email: str | None) -> None:
    """Mail a personal link to every leader of the cohort who was never sent one."""
    from assessment.cohort_jobs import SEND_LEADER_LINKS

    _run_job(SEND_LEADER_LINKS, slug, coach_email)


@cli.group()
def raters() -> None:
    """Raters (invitations) of a cohort."""


@raters.command("import")
@cohort_options("The cohort's slug (from its address).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def raters_import(slug: str, coach_email: str | None, path: Path) -> None:
    """Invite raters from a CSV file (leader_email, rater_name, rater_email, relationship)."""
    _import("raters", slug, coach_email, path)


@cli.group()
def invitations() -> None:
    """Invitation mail."""


@invitations.command("send")
@cohort_options("The cohort's slug.")
def invitations_send(slug: str, coach_email: str | None) -> None:
    """Mail every invitation of the cohort that has an address and was never mailed."""
    from assessment.cohort_jobs import SEND_INVITATIONS

    _run_job(SEND_INVITATIONS, slug, coach_email)


def _submit(name: str, slug: str, coach_email: str | None) -> int:
    """Record a job on a cohort, asked for from the command line; its id."""
    from assessment.jobs import submit

    with _database().transaction() as session:
        cohort = _cohort(session, slug, coach_email)
        return submit(session, name, requested_by="cli", cohort_id=cohort.id).id


def _run_job(name: str, slug: str, coach_email: str | None) -> None:
    """Do a cohort's job here and now, as the web's runner would; exit 1 on any problem."""
    from assessment.jobs import run

    job_id = _submit(name, slug, coach_email)
    run(_database(), current_app.extensions["cl360.settings"], job_id)
    _report_job(job_id)


def _report_job(job_id: int, *, failed: bool = False) -> None:
    """Each problem of a finished job on standard error, then its summary; exit 1 if any
    (or if the caller ``failed`` otherwise)."""
    from assessment.jobs import find_job, sentence

    with _database().session() as session:
        record = find_job(session, job_id)
        for problem in record.errors:
            click.echo(f"error: {problem['item']}: {problem['error']}", err=True)
        click.echo(sentence(record))
        failed = failed or bool(record.errors) or record.state.value == "failed"
    if failed:
        sys.exit(1)


def _say_held_back(session, cohort) -> None:
    """On standard error, each leader whose newer responses the disclosure ledger holds back."""
    from assessment.results import scoring_rules

    rules = scoring_rules(cohort)
    names = {leader.id: leader.name for leader in cohort.leaders}
    for leader_id, decision in disclosures.decide(session, cohort).items():
        for line in disclosures.held_back_lines(decision, rules):
            click.echo(f"{names[leader_id]}: {line} (earlier figures stand)", err=True)


@cli.group()
def reminders() -> None:
    """Reminders to raters who have not answered yet."""


@reminders.command("send")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Pretend it is this date (for testing a schedule).",
)
def reminders_send(today) -> None:
    """Send the reminders due today under each open cohort's schedule. Safe to run from cron
    as often as you like: each reminder goes to each person at most once."""
    from assessment.models import Invitation
    from assessment.reminders import remind, scheduled_reminders

    day = today.date() if today else date.today()
    with _database().transaction() as session:
        due = scheduled_reminders(session, day)
    postman, sent, failed = _postman(), 0, 0
    for invitation_id, key in due:
        # One transaction per reminder, sent once it has committed: a crash part-way never
        # causes a second send, and a refused one is tried again by the next run.
        try:
            with _database().transaction() as session:
                invitation = session.get(Invitation, invitation_id)
                sent += bool(invitation and remind(session, invitation, key, postman, actor="cron"))
        except MailError as error:
            failed += 1
            click.echo(str(error), err=True)
        for refusal in postman.send_queued(_database()):
            sent, failed = sent - 1, failed + 1
            click.echo(refusal, err=True)
    click.echo(f"reminders: {sent} sent, {failed} failed ({day.isoformat()})")
    if failed:
        sys.exit(1)


# -- Scores and responses without the web forms (issue 3) -----------------------------------


@cli.group()
def responses() -> None:
    """Submitted questionnaires collected outside the web forms."""


@responses.command("import")
@cohort_options()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def responses_import(slug: str, coach_email: str | None, file: Path) -> None:
    """Import responses from a CSV file: all of them, or none and one line per problem."""
    try:
        with _database().transaction() as session:
            summary = import_responses(
                session, _cohort(session, slug, coach_email), file.read_bytes(), actor="cli"
            )
    except ImportProblems as error:
        _refused(file, error)
    click.echo(f"{file}: {summary} into cohort {slug}")


@cli.group()
def scores() -> None:
    """Every figure of a cohort, as the scoring layer lets it out."""


@scores.command("export")
@cohort_options()
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output."
)
def scores_export(slug: str, coach_email: str | None, fmt: str, out: Path | None) -> None:
    """Export every figure per leader, group, dimension and item (never a rater's answers)."""
    try:
        with _database().transaction() as session:
            cohort = _cohort(session, slug, coach_email)
            artefact = disclosures.scores(session, cohort, fmt, actor="cli")
            pieces, count = content_chunks(artefact), len(artefact.response_sets)
            _say_held_back(session, cohort)
    except CohortOpen as error:
        raise click.ClickException(str(error)) from None
    if out is None:
        for piece in pieces:
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    with out.open("wb") as file:
        file.writelines(pieces)
    click.echo(f"wrote the scores of {count} leaders to {out}", err=True)


@cli.group()
def profiles() -> None:
    """Leader profiles (clusters) fitted on all data of an instrument version."""


@profiles.command("fit")
@cohort_options("Any cohort on the instrument version.")
def profiles_fit(slug: str, coach_email: str | None) -> None:
    """Fit profiles on every leader of the cohort's instrument version and store the model."""
    with _database().transaction() as session:
        fitted = fit_profile_model(session, _cohort(session, slug, coach_email))
        if isinstance(fitted, TooFewLeaders):
            click.echo(fitted.message, err=True)
            sys.exit(1)
        stability = "n/a" if fitted.stability is None else f"{fitted.stability:.2f}"
        click.echo(
            f"stored {fitted.k} profiles from {fitted.n_leaders} leaders "
            f"(bootstrap stability {stability}): {'; '.join(fitted.names)}"
        )


@cli.group("reports")
def reports_group() -> None:
    """Development reports as PDF files."""


@reports_group.command("build")
@cohort_options()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PDFs (created if missing).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per CPU core).",
)
def reports_build(slug: str, coach_email: str | None, out: Path, jobs: int | None) -> None:
    """Render every leader's report and the cohort report, in parallel worker processes."""
    from assessment.cohort_jobs import BUILD_REPORTS
    from assessment.jobs import find_job, finish_if_complete, start

    database, settings = _database(), current_app.extensions["cl360.settings"]
    with database.transaction() as session:
        cohort = _cohort(session, slug, coach_email)
        if cohort.is_open:
            raise click.ClickException(str(CohortOpen(cohort)))
        _say_held_back(session, cohort)
    job_id = _submit(BUILD_REPORTS, slug, coach_email)
    pending = start(database, settings, job_id) or []
    with click.progressbar(
        length=len(pending), label=f"{cohort.name}: {len(pending)} reports", file=sys.stderr
    ) as bar:
        result = run_items(database, settings, job_id, pending, jobs, lambda _: bar.update(1))
    finish_if_complete(database, settings, job_id)
    with database.session() as session:
        record = find_job(session, job_id)
        artefacts = [int(artefact_id) for artefact_id in record.outputs.values()]
        cohort = session.get_one(type(cohort), cohort.id)
        out.mkdir(parents=True, exist_ok=True)
        written, unwritten = 0, []
        for name, artefact in disclosures.named(session, cohort, artefacts):
            problem = _write_whole(out / name, content_chunks(artefact))
            if problem:
                unwritten.append(problem)
            else:
                written += 1
    for problem in unwritten:
        click.echo(f"error: {problem}", err=True)
    click.echo(
        f"{written} of {record.total or 0} reports written to {out.resolve()} "
        f"in {result.elapsed:.1f} s ({result.processes} worker"
        f"{'s' if result.processes != 1 else ''})",
        err=True,
    )
    _report_job(job_id, failed=bool(unwritten))


def _write_whole(path: Path, pieces: Iterable[bytes]) -> str | None:
    """Write a file under a temporary name, renamed once complete (never half a file); the
    problem, if it could not be written."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as file:
            file.writelines(pieces)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        return f"{path.name} could not be written: {error.strerror or error}"
    return None


# -- Jobs: long work off the request (docs/jobs.md) ----------------------------------------------


@cli.group("jobs")
def jobs_group() -> None:
    """Jobs (such as releasing every report of a cohort): their state, and retrying one."""


def _job_line(record) -> str:
    from assessment.jobs import sentence

    return (
        f"{record.id}  {record.name}  {record.state.value}  {record.done} of "
        f"{'?' if record.total is None else record.total}  {record.requested_by}  "
        f"{record.created_at:%Y-%m-%d %H:%M}  {sentence(record)}"
    )


@jobs_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="How many, newest first.")
def jobs_list(limit: int) -> None:
    """The latest jobs, newest first: id, name, state, progress, who asked, when, and where it is."""
    from assessment.jobs import recent_jobs

    with _database().session() as session:
        for record in recent_jobs(session, limit):
            click.echo(_job_line(record))


@jobs_group.command("show")
@click.argument("job_id", type=int)
def jobs_show(job_id: int) -> None:
    """One job: its parameters, progress, each item's problem, and its outputs."""
    from assessment.jobs import JobError, find_job

    with _database().session() as session:
        try:
            record = find_job(session, job_id)
        except JobError as error:
            raise click.ClickException(str(error)) from None
        click.echo(_job_line(record))
        click.echo(f"parameters: {record.params}")
        click.echo(f"attempts: {record.attempts}")
        for problem in record.errors:
            click.echo(f"problem: {problem['item']}: {problem['error']}")
        click.echo(f"outputs: {record.outputs}")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@click.option(
    "--force",
    is_flag=True,
    help="Also a job marked running, whose worker was killed (its finished items stay done).",
)
def jobs_retry(job_id: int, force: bool) -> None:
    """Run a failed (or stuck) job again: on the Celery workers when a broker is configured,
    here and now otherwise. Items it had finished are not done twice."""
    from assessment.jobs import JobError, find_job, requeue, run

    with _database().transaction() as session:
        try:
            requeue(session, find_job(session, job_id), force=force)
        except JobError as error:
            raise click.ClickException(str(error)) from None
    settings = current_app.extensions["cl360.settings"]
    if settings.broker_url:
        current_app.extensions["cl360.jobs"].enqueue(job_id)
        click.echo(f"job {job_id} queued for the Celery workers")
        return
    run(_database(), settings, job_id)
    with _database().transaction() as session:
        click.echo(_job_line(find_job(session, job_id)))


@cli.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for jobs (needs CL360_BROKER_URL); extra arguments go to Celery,
    e.g. `cl360 worker --concurrency 4`."""
    if not current_app.extensions["cl360.settings"].broker_url:
        raise click.ClickException(
            "CL360_BROKER_URL is not set: jobs run on a thread of the web app, and there is "
            "no worker to start (docs/jobs.md)"
        )
    # Each job's start and end at INFO; not WeasyPrint's every layout step.
    for chatty in ("weasyprint", "fontTools"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    current_app.extensions["celery"].worker_main(["worker", "--loglevel=INFO", *celery_args])
