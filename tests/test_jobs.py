"""Jobs: the job functions themselves, the default runner through the web, retries after a
crash that give one release and one mail per leader, the command line, and a real Celery
worker against the local Redis."""

from __future__ import annotations

import dataclasses
import io
import time
import uuid
import zipfile
from collections import Counter

import pytest
import redis
from sqlalchemy import func, select

from assessment import disclosures, jobs, releases
from assessment.accounts import create_coach
from assessment.app import create_app
from assessment.cli import cli
from assessment.cohort_jobs import FIT_PROFILES, RELEASE_ALL
from assessment.cohorts import create_cohort
from assessment.config import MailSettings
from assessment.core.profiles import MIN_LEADERS
from assessment.database import Database
from assessment.mail import Message, Postman
from assessment.models import (
    Artefact,
    Cohort,
    Disclosure,
    Job,
    JobState,
    Leader,
    MailMessage,
    ReportRelease,
)
from tests.builders import (
    client_signed_in_as,
    csrf_token,
    make_cohort,
    pdf_text,
    require_redis,
    run_job,
    wait_for_job,
)

NAMES = ("Ada Lovelace", "Grace Hopper", "Mary Somerville")
REDIS_URL = "redis://127.0.0.1:6379/7"


def release_one_first(database: Database, leader_id: int) -> None:
    """Release one leader's report by hand, so that a later release of it has nothing new."""
    with database.transaction() as session:
        leader = session.get(Leader, leader_id)
        releases.release_report(session, leader, Postman(MailSettings(), "x"), actor="coach")


def submit(database: Database, cohort_id: int, coach_id: int | None = None) -> int:
    with database.transaction() as session:
        return jobs.submit(
            session,
            RELEASE_ALL,
            requested_by="coach@example.org",
            coach_id=coach_id,
            cohort_id=cohort_id,
        ).id


def job_row(database: Database, job_id: int) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)


def releases_per_leader(database: Database) -> Counter[int]:
    with database.session() as session:
        return Counter(session.scalars(select(ReportRelease.leader_id)))


def ready_mail_per_recipient(database: Database) -> Counter[str]:
    with database.session() as session:
        return Counter(
            session.scalars(select(MailMessage.recipient).where(MailMessage.kind == "report_ready"))
        )


def wait_for(condition, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not so after {seconds} s"
        time.sleep(0.2)


def wait_until_finished(database: Database, job_id: int, seconds: float = 180) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = job_row(database, job_id)
        if record.state in (JobState.DONE, JobState.FAILED):
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s: {record.state}")


# -- the job function, called directly ---------------------------------------------------------


def test_release_all_releases_each_leader_and_lists_who_could_not_be(
    database, settings, coach, instrument
):
    cohort = make_cohort(database, coach, instrument, NAMES)
    release_one_first(database, cohort.leaders["Grace Hopper"])
    job_id = submit(database, cohort.id)

    assert jobs.run(database, settings, job_id)

    record = job_row(database, job_id)
    assert record.state == JobState.DONE and record.attempts == 1
    assert (record.done, record.total) == (3, 3)
    assert record.summary == "2 of 3 reports released."
    [problem] = record.errors
    assert problem["item"] == "Grace Hopper"
    assert "already been released" in problem["error"]
    released = {cohort.leaders["Ada Lovelace"], cohort.leaders["Mary Somerville"]}
    with database.session() as session:
        ids = {r.leader_id: r.id for r in session.scalars(select(ReportRelease))}
    assert record.outputs == {str(leader): ids[leader] for leader in released}
    assert set(releases_per_leader(database).values()) == {1}
    assert set(ready_mail_per_recipient(database).values()) == {1}
    assert not jobs.run(database, settings, job_id)  # done: nobody claims it again


def test_a_job_on_an_open_cohort_fails_with_the_reason_and_can_be_retried_once_closed(
    database, settings, coach, instrument
):
    cohort = make_cohort(database, coach, instrument, NAMES[:2])
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "open"
    job_id = submit(database, cohort.id)
    jobs.run(database, settings, job_id)
    record = job_row(database, job_id)
    assert record.state == JobState.FAILED
    assert record.summary == (
        "The job stopped: close the cohort before releasing reports, so the figures are final."
    )
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "closed"
        jobs.requeue(session, session.get(Job, job_id))
    jobs.run(database, settings, job_id)
    assert job_row(database, job_id).state == JobState.DONE
    assert releases_per_leader(database) == Counter(cohort.leaders.values())


def test_only_one_runner_claims_a_job(database, coach, instrument):
    cohort = make_cohort(database, coach, instrument, NAMES[:1])
    job_id = submit(database, cohort.id)
    with database.transaction() as session:
        assert jobs.claim(session, job_id)
    with database.transaction() as session:
        assert not jobs.claim(session, job_id)
        with pytest.raises(jobs.JobError, match="is running"):
            jobs.requeue(session, session.get(Job, job_id))


def test_unknown_jobs_are_refused(session):
    with pytest.raises(jobs.JobError, match="no job called 'nothing'"):
        jobs.submit(session, "nothing", requested_by="x")


# -- safe under retries ------------------------------------------------------------------------


class Killed(BaseException):
    """What a worker killed mid-batch looks like from inside: nothing after it runs."""


def test_a_job_killed_mid_batch_and_retried_releases_and_mails_each_leader_once(
    database, settings, coach, instrument, monkeypatch
):
    cohort = make_cohort(database, coach, instrument, NAMES)
    job_id = submit(database, cohort.id)
    real_release, calls = releases.release_report, []

    def release_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real_release(*args, **kwargs)

    monkeypatch.setattr(releases, "release_report", release_then_die)
    with pytest.raises(Killed):
        jobs.run(database, settings, job_id)
    stuck = job_row(database, job_id)
    assert stuck.state == JobState.RUNNING and stuck.done == 1
    assert sum(releases_per_leader(database).values()) == 1

    monkeypatch.setattr(releases, "release_report", real_release)
    with database.transaction() as session:
        jobs.requeue(session, session.get(Job, job_id), force=True)
    assert jobs.run(database, settings, job_id)

    record = job_row(database, job_id)
    assert record.state == JobState.DONE and record.attempts == 2
    assert (record.done, record.total, record.errors) == (3, 3, [])
    assert releases_per_leader(database) == Counter(cohort.leaders.values())
    assert set(ready_mail_per_recipient(database).values()) == {1}
    assert len(ready_mail_per_recipient(database)) == 3


def test_running_release_all_again_releases_nothing_twice(database, settings, coach, instrument):
    cohort = make_cohort(database, coach, instrument, NAMES[:2])
    first, second = submit(database, cohort.id), submit(database, cohort.id)
    jobs.run(database, settings, first)
    jobs.run(database, settings, second)
    assert [e["item"] for e in job_row(database, second).errors] == list(NAMES[:2])
    assert releases_per_leader(database) == Counter(cohort.leaders.values())
    assert set(ready_mail_per_recipient(database).values()) == {1}


def test_a_message_with_a_known_idempotency_key_is_recorded_and_sent_once(database, smtp):
    postman = Postman(smtp.settings, "http://localhost")
    message = Message("report_ready", "ada@example.org", "Your report", "Hello")
    with database.transaction() as session:
        first = postman.deliver(session, message, None, key="report_ready:leader:1:set:abc")
        again = postman.deliver(session, message, None, key="report_ready:leader:1:set:abc")
        assert again.id == first.id
    postman.send_queued(database)
    assert len(smtp.messages) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(MailMessage)) == 1


# -- the default runner, through the web -------------------------------------------------------


def poll(client, job_id: int, seconds: float = 180) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}.json").get_json()
        if status["finished"]:
            return status
        page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
        assert 'http-equiv="refresh"' in page and ">Refresh</a>" in page
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def test_release_all_through_the_web(app, database, coach, instrument, signed_in):
    cohort = make_cohort(database, coach, instrument, NAMES)
    release_one_first(database, cohort.leaders["Mary Somerville"])
    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    assert "Release all reports" in page

    response = signed_in.post(
        f"/cohorts/{cohort.slug}/release-all", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    status = poll(signed_in, job_id)

    assert status["state"] == "done" and (status["done"], status["total"]) == (3, 3)
    assert [e["item"] for e in status["errors"]] == ["Mary Somerville"]
    done = signed_in.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "2 of 3 reports released." in done and "Not released" in done
    assert "Mary Somerville" in done and "already been released" in done
    assert f'href="/cohorts/{cohort.slug}"' in done and 'http-equiv="refresh"' not in done
    assert releases_per_leader(database) == Counter(cohort.leaders.values())
    assert set(ready_mail_per_recipient(database).values()) == {1}

    with database.transaction() as session:
        create_coach(session, "other@example.org", "another long password")
    other = client_signed_in_as(app, "other@example.org", "another long password")
    assert other.get(f"/jobs/{job_id}").status_code == 404
    assert other.get(f"/jobs/{job_id}.json").status_code == 404


def test_release_all_needs_the_form_token_and_a_closed_cohort(
    database, coach, instrument, signed_in
):
    cohort = make_cohort(database, coach, instrument, NAMES[:1])
    assert signed_in.post(f"/cohorts/{cohort.slug}/release-all").status_code == 400
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "open"
    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    assert "Release all reports" not in page
    refused = signed_in.post(
        f"/cohorts/{cohort.slug}/release-all",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Close the cohort first, so the figures in the reports are final." in refused.get_data(
        as_text=True
    )
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_every_report_as_one_zip_through_the_web(app, database, coach, instrument, signed_in):
    cohort = make_cohort(database, coach, instrument, (*NAMES, "Ada King"))
    with database.transaction() as session:  # two leaders of one name
        session.get(Leader, cohort.leaders["Ada King"]).name = "Ada Lovelace"
    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    started = signed_in.post(
        f"/cohorts/{cohort.slug}/build-reports", data={"csrf_token": csrf_token(page)}
    )
    status = wait_for_job(signed_in, started)
    assert (status["state"], status["done"], status["total"]) == ("done", 5, 5)
    assert status["summary"] == "5 of 5 reports ready to download." and status["errors"] == []
    done = signed_in.get(started.headers["Location"]).get_data(as_text=True)
    assert "Preparing every report" in done and "Download all reports (ZIP)" in done

    download = signed_in.get(f"/jobs/{status['id']}/reports.zip")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert f"{cohort.slug}-reports.zip" in download.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    assert sorted(archive.namelist()) == [
        "ada-lovelace-360-report-2.pdf",  # two leaders of one name keep a file each
        "ada-lovelace-360-report.pdf",
        "grace-hopper-360-report.pdf",
        "mary-somerville-360-report.pdf",
        "report-cohort-cohort-report.pdf",
    ]
    grace = pdf_text(archive.read("grace-hopper-360-report.pdf"))
    assert "Grace Hopper" in grace and "Mary Somerville" not in grace
    assert "Ada Lovelace" not in pdf_text(archive.read("report-cohort-cohort-report.pdf"))
    with database.session() as session:
        pdfs = session.scalars(select(Artefact).where(Artefact.kind == "report_pdf")).all()
        # Each artefact was disclosed when it was made and again when the ZIP was downloaded.
        logged = Counter(session.scalars(select(Disclosure.artefact_id)))
    assert len(pdfs) == 4 and all(logged[pdf.id] == 2 for pdf in pdfs)
    # Each PDF is the ledger's: the coach's single download serves the stored one.
    single = signed_in.get(
        f"/cohorts/{cohort.slug}/leaders/{cohort.leaders['Grace Hopper']}/report.pdf"
    )
    assert single.data == archive.read("grace-hopper-360-report.pdf")

    with database.transaction() as session:
        create_coach(session, "other@example.org", "another long password")
    other = client_signed_in_as(app, "other@example.org", "another long password")
    assert other.get(f"/jobs/{status['id']}/reports.zip").status_code == 404
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "open"
    reopened = signed_in.get(f"/jobs/{status['id']}/reports.zip")
    assert reopened.status_code == 409 and "open" in reopened.get_data(as_text=True)


def test_building_reports_of_an_open_cohort_is_refused(database, coach, instrument, signed_in):
    cohort = make_cohort(database, coach, instrument, NAMES[:1])
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "open"
    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    assert "All reports (ZIP)" not in page
    refused = signed_in.post(
        f"/cohorts/{cohort.slug}/build-reports",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Close the cohort first" in refused.get_data(as_text=True)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


LARGE = "name,email,department\n" + "".join(
    f"Leader {n},leader{n}@example.org,Ward {n % 7}\n" for n in range(400)
)


def import_large(signed_in, slug: str, text: str):
    page = signed_in.get(f"/cohorts/{slug}").get_data(as_text=True)
    return signed_in.post(
        f"/cohorts/{slug}/import/leaders",
        data={
            "leaders-csrf_token": csrf_token(page),
            "leaders-file": (io.BytesIO(text.encode()), "leaders.csv"),
        },
        content_type="multipart/form-data",
    )


def test_a_large_import_is_a_job_and_a_bad_one_lists_every_problem(
    database, coach, instrument, signed_in
):
    with database.transaction() as session:
        cohort = create_cohort(session, session.merge(coach), "Large", instrument)
        slug = cohort.slug
    broken = LARGE.replace("leader7@example.org", "not an address").replace("Leader 300,", ",")
    refused = wait_for_job(signed_in, import_large(signed_in, slug, broken))
    assert refused["summary"] == "Nothing was imported: the file's problems are below."
    assert [(p["item"], p["error"]) for p in refused["errors"]] == [
        ("The file", "row 9, column email: 'not an address' is not a valid email address"),
        ("The file", "row 302, column name: required"),
    ]
    page = signed_in.get(f"/jobs/{refused['id']}").get_data(as_text=True)
    assert "Importing a file" in page and "Problems in the file (nothing was imported)" in page
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Leader)) == 0

    imported = wait_for_job(signed_in, import_large(signed_in, slug, LARGE))
    assert imported["summary"] == "400 leaders imported." and imported["errors"] == []
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Leader)) == 400
        # The file is kept with the job only as long as it is needed to do the job again.
        assert session.get(Job, imported["id"]).upload is not None


def test_closing_a_cohort_fits_its_profiles_off_the_request(
    database, settings, coach, instrument, signed_in
):
    names = tuple(f"Leader {n:02d}" for n in range(MIN_LEADERS))
    cohort = make_cohort(database, coach, instrument, names)
    with database.transaction() as session:
        leader = session.get(Leader, cohort.leaders["Leader 00"])
        before = disclosures.leader_pdf(session, leader, actor="coach")  # no model yet
        before_id, before_text = before.id, pdf_text(disclosures.content_of(before))
        session.get(Cohort, cohort.id).status = "open"
    assert "have not been fitted yet" in before_text

    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    closed = signed_in.post(f"/cohorts/{cohort.slug}/close", data={"csrf_token": csrf_token(page)})
    assert closed.status_code == 302
    with database.session() as session:
        [job] = session.scalars(select(Job)).all()
    assert job.name == FIT_PROFILES
    record = wait_until_finished(database, job.id)
    assert record.summary == "Profiles fitted." and record.errors == []
    assert record.outputs[str(cohort.id)].endswith(f"profiles from {MIN_LEADERS} leaders")

    with database.transaction() as session:
        after = disclosures.leader_pdf(
            session, session.get(Leader, cohort.leaders["Leader 00"]), actor="coach"
        )
        after_id, after_text = after.id, pdf_text(disclosures.content_of(after))
    # The same responses, but made again: the stored report predates the profile model.
    assert after_id != before_id and "have not been fitted yet" not in after_text


def test_profiles_are_fitted_by_a_job(database, settings, coach, instrument):
    cohort = make_cohort(database, coach, instrument, NAMES)
    record = run_job(database, settings, FIT_PROFILES, cohort_id=cohort.id)
    assert record.summary == "Profiles could not be fitted."
    [problem] = record.errors
    assert problem["item"] == "Profiles" and "Profiles need at least" in problem["error"]


# -- the command line --------------------------------------------------------------------------


def test_jobs_list_show_and_retry(database, coach, instrument, runner):
    cohort = make_cohort(database, coach, instrument, NAMES[:2])
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "open"
    job_id = submit(database, cohort.id)
    failed = runner.invoke(cli, ["jobs", "retry", str(job_id)])
    assert failed.exit_code == 0, failed.output
    assert "failed" in failed.output and "close the cohort" in failed.output

    listed = runner.invoke(cli, ["jobs", "list"])
    assert f"{job_id}  release_all  failed  0 of ?" in listed.output
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "closed"
    retried = runner.invoke(cli, ["jobs", "retry", str(job_id)])
    assert f"{job_id}  release_all  done  2 of 2" in retried.output
    assert "2 of 2 reports released." in retried.output
    shown = runner.invoke(cli, ["jobs", "show", str(job_id)])
    assert f"parameters: {{'cohort_id': {cohort.id}}}" in shown.output
    assert "attempts: 2" in shown.output
    again = runner.invoke(cli, ["jobs", "retry", str(job_id)])
    assert again.exit_code == 1 and "is done" in again.output
    assert "there is no job 999" in runner.invoke(cli, ["jobs", "show", "999"]).output
    assert releases_per_leader(database) == Counter(cohort.leaders.values())


def test_worker_without_a_broker_says_so(runner):
    result = runner.invoke(cli, ["worker"])
    assert result.exit_code == 1 and "CL360_BROKER_URL is not set" in result.output


# -- a real Celery worker on the local Redis ---------------------------------------------------


@pytest.fixture
def celery_app(settings):
    """An app whose jobs go through Redis to Celery, on a queue and key prefix of its own."""
    require_redis(REDIS_URL, "the Celery worker tests")
    app = create_app(dataclasses.replace(settings, broker_url=REDIS_URL))
    celery = app.extensions["celery"]
    prefix = f"cl360-test-{uuid.uuid4().hex[:8]}"
    celery.conf.update(
        task_default_queue=prefix,
        broker_transport_options={"global_keyprefix": f"{prefix}:"},
    )
    yield app
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)
    app.extensions["cl360.db"].dispose()


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def rabbitmq_app(settings):
    """An app whose jobs go through RabbitMQ to Celery, on a queue of its own (deleted after).

    Optional: a machine without RabbitMQ skips this with a sentence; Redis is the broker the
    suite requires."""
    import kombu

    try:
        with kombu.Connection(RABBITMQ_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:
        pytest.skip(f"RabbitMQ does not answer at {RABBITMQ_URL} ({error}): optional broker")
    app = create_app(dataclasses.replace(settings, broker_url=RABBITMQ_URL))
    celery = app.extensions["celery"]
    queue = f"cl360-test-{uuid.uuid4().hex[:8]}"
    celery.conf.update(task_default_queue=queue)
    yield app
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)
    app.extensions["cl360.db"].dispose()


def test_release_all_on_a_celery_worker_with_rabbitmq(database, coach, instrument, rabbitmq_app):
    from celery.contrib.testing.worker import start_worker

    cohort = make_cohort(database, coach, instrument, NAMES)
    job_id = submit(database, cohort.id, coach.id)
    celery = rabbitmq_app.extensions["celery"]
    with start_worker(
        celery, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30
    ):
        rabbitmq_app.extensions["cl360.jobs"].enqueue(job_id)
        record = wait_until_finished(database, job_id)
    assert (record.state, record.summary, record.errors) == (
        JobState.DONE,
        "3 of 3 reports released.",
        [],
    )
    assert releases_per_leader(database) == Counter(cohort.leaders.values())
    assert set(ready_mail_per_recipient(database).values()) == {1}


def test_release_all_on_a_celery_worker(database, coach, instrument, celery_app):
    from celery.contrib.testing.worker import start_worker

    cohort = make_cohort(database, coach, instrument, NAMES)
    release_one_first(database, cohort.leaders["Ada Lovelace"])
    job_id = submit(database, cohort.id, coach.id)
    celery = celery_app.extensions["celery"]
    # Two at once: the leaders are released in parallel, each exactly once.
    with start_worker(
        celery, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30
    ):
        celery_app.extensions["cl360.jobs"].enqueue(job_id)
        record = wait_until_finished(database, job_id)
    assert record.state == JobState.DONE and (record.done, record.total) == (3, 3)
    assert record.summary == "2 of 3 reports released."
    assert [e["item"] for e in record.errors] == ["Ada Lovelace"]
    assert releases_per_leader(database) == Counter(cohort.leaders.values())
    assert set(ready_mail_per_recipient(database).values()) == {1}


def test_a_job_killed_on_a_celery_worker_and_retried_releases_and_mails_each_leader_once(
    database, coach, instrument, celery_app, monkeypatch
):
    from celery.contrib.testing.worker import start_worker

    cohort = make_cohort(database, coach, instrument, NAMES)
    job_id = submit(database, cohort.id, coach.id)
    real_release, calls = releases.release_report, []

    def release_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real_release(*args, **kwargs)

    monkeypatch.setattr(releases, "release_report", release_then_die)
    celery = celery_app.extensions["celery"]
    with start_worker(celery, pool="threads", perform_ping_check=False, shutdown_timeout=30):
        celery_app.extensions["cl360.jobs"].enqueue(job_id)
        # Each leader is a task of its own: the other two are done, the killed one is not,
        # and the job stays running, as a dead worker leaves it.
        wait_for(lambda: job_row(database, job_id).done == 2)
        time.sleep(0.5)
        stuck = job_row(database, job_id)
        assert stuck.state == JobState.RUNNING and stuck.done == 2 and len(calls) == 3

        monkeypatch.setattr(releases, "release_report", real_release)
        retried = celery_app.test_cli_runner().invoke(
            cli, ["jobs", "retry", str(job_id), "--force"]
        )
        assert f"job {job_id} queued for the Celery workers" in retried.output
        record = wait_until_finished(database, job_id)
    assert record.state == JobState.DONE and record.attempts == 2
    assert (record.done, record.total, record.errors) == (3, 3, [])
    assert releases_per_leader(database) == Counter(cohort.leaders.values())
    assert set(ready_mail_per_recipient(database).values()) == {1}
    assert len(ready_mail_per_recipient(database)) == 3
