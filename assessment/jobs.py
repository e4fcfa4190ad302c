r"""Jobs: long work that leaves the request, recorded in the ``job`` table whoever runs it.

A job is a name and plain-id parameters (never objects: a runner elsewhere reads everything
again from the database). :func:`submit` records it in the caller's transaction and only
flushes; the caller enqueues it on a runner once that transaction has committed, as it sends
queued mail (:mod:`assessment.runners`), so a job never runs on data a rollback took away.

Each kind of job (:class:`Kind`) says what its items are (the leaders of a cohort, the
invitations to mail…), what is done to one item, and how the outcome is summed up. A runner
first :func:`start`\ s the job: a conditional UPDATE claims it (queued → running; the row count
decides, so two runners never start one job) and its items are listed once and kept on the
row. Then every item is done by :func:`run_item` — one after another in one process
(:func:`run`), or spread over several workers at once — and :func:`finish_if_complete` ends the
job when none is left. Each item has its own transaction; its output is recorded on the locked
job row at the end of that transaction, after checking that no other attempt recorded it first
(if one did, this attempt's effect is rolled back). So a job retried after its worker was killed
does every item exactly once, and a failing item is written down with its reason while the
others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assessment.config import Settings
from assessment.database import Database
from assessment.mail import Postman
from assessment.models import Job, JobState, utcnow

log = logging.getLogger(__name__)

Output = str | int | None
"""What one item produced, as plain data (e.g. the id of a release)."""

Item = tuple[int, str]
"""One item of a job: the id its step is given, and the label its problems are listed under."""


@dataclass(frozen=True)
class Kind:
    """A kind of job: its items, the step done to each, and the sentence that sums it up.

    ``items`` reads the job's items when it first starts (raising one of ``expected`` when
    the job cannot be done at all: the job fails with that sentence and can be retried).
    ``prepare``, if given, does an item's slow part in a reading session first (rendering a
    PDF: no write lock is held meanwhile, so workers render side by side even on SQLite).
    ``step`` does one item inside the transaction it is given, with what ``prepare`` returned
    (or None), and returns its output; one of ``expected`` raised by either is that item's
    problem, listed with the error's sentence.
    ``problems`` turns such an error into the sentences listed (one, unless the error holds
    several, as a refused import does). ``summary`` is given the outputs of the items that
    succeeded and how many items there were. When the mail is the work (``mail_is_the_work``),
    an item whose message the mail server refused is not done (the message's own failure
    handler has withdrawn the link it carried), so a retry sends it; otherwise the item stays
    done and the refusal is listed beside it.
    """

    name: str
    items: Callable[[JobRun, Session], list[Item]]
    step: Callable[[JobRun, Session, int, Any], Output]
    summary: Callable[[Mapping[str, Output], int], str]
    expected: tuple[type[Exception], ...] = ()
    problems: Callable[[Exception], list[str]] = lambda error: [str(error)]
    mail_is_the_work: bool = False
    prepare: Callable[[JobRun, Session, int], Any] | None = None


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make a kind of job known by its name, the name :func:`submit` is given."""
    KINDS[kind.name] = kind
    return kind


class JobError(RuntimeError):
    """A job cannot be found, submitted or retried as asked; the message says why."""


class Runner(Protocol):
    """Where committed jobs go to be run: threads of this process, or Celery workers."""

    def enqueue(self, job_id: int) -> None: ...

    def shutdown(self) -> None:
        """Wait for what this process runs itself to end (a clean stop)."""


def submit(
    session: Session,
    name: str,
    *,
    requested_by: str,
    coach_id: int | None = None,
    upload: bytes | None = None,
    **ids: int,
) -> Job:
    """Record a queued job in the caller's transaction (flushed, not committed).

    The caller enqueues ``job.id`` on its runner after committing, never before: a runner
    elsewhere could otherwise look for a row that does not exist yet, or never will.
    """
    if name not in KINDS:
        raise JobError(f"there is no job called {name!r}")
    record = Job(
        name=name, params=dict(ids), requested_by=requested_by, coach_id=coach_id, upload=upload
    )
    session.add(record)
    session.flush()
    return record


def requeue(session: Session, record: Job, *, force: bool = False) -> None:
    """Put a job that did not finish back in the queue; its finished items stay finished.

    A failed job, or one still queued, may always go again. One marked running is normally
    being run; ``force`` is for one whose worker was killed, and is safe even if it is not
    dead after all, because items are done at most once (the module docstring says how).
    """
    if record.state == JobState.DONE:
        raise JobError(f"job {record.id} is done; submit a new one to do the work again")
    if record.state == JobState.RUNNING and not force:
        raise JobError(
            f"job {record.id} is running; if its worker was killed, retry it with --force"
        )
    record.state, record.finished_at = JobState.QUEUED, None
    session.flush()


def claim(session: Session, job_id: int) -> bool:
    """Mark a queued job running for this runner; False when another runner has it already."""
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.QUEUED)
        .values(state=JobState.RUNNING, started_at=utcnow(), attempts=Job.attempts + 1)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def run(database: Database, settings: Settings, job_id: int) -> bool:
    """Claim and run one job to its end in this process; False when it was not queued."""
    pending = start(database, settings, job_id)
    if pending is None:
        return False
    for item_id in pending:
        run_item(database, settings, job_id, item_id)
    finish_if_complete(database, settings, job_id)
    return True


def start(database: Database, settings: Settings, job_id: int) -> list[int] | None:
    """Claim a queued job and list the items it has still to do (None: it was not queued).

    The items are listed on the first attempt and kept; a retry does the ones without an
    output, and its errors start afresh. A job whose items cannot be listed (one of its
    kind's expected errors, or any other) fails with a sentence saying why.
    """
    with database.transaction() as session:
        if not claim(session, job_id):
            return None
    run = _job_run(database, settings, job_id)
    try:
        with database.transaction() as session:
            record = _locked(session, job_id)
            if record.items is None:
                record.items = [list(item) for item in run.kind.items(run, session)]
            done = {str(item_id) for item_id, _ in record.items} & set(record.outputs)
            record.total, record.done, record.errors = len(record.items), len(done), []
            return [item_id for item_id, _ in record.items if str(item_id) not in done]
    except Exception as error:
        if not isinstance(error, run.kind.expected):
            log.exception("job %s (%s) could not start", job_id, run.kind.name)
        run.finish(JobState.FAILED, f"The job stopped: {error}.")
        return []


class _AlreadyDone(Exception):
    """Another attempt recorded this item first: this attempt's effect must not stay."""


def run_item(database: Database, settings: Settings, job_id: int, item_id: int) -> None:
    """Do one item of a started job in its own transaction, exactly once across attempts.

    The output is recorded on the job row, locked at the end of the item's transaction (so
    workers doing other items of the job in parallel wait only for that moment). Mail the
    step queued is sent once its transaction has committed; a refusal is listed for its item.
    """
    run = _job_run(database, settings, job_id)
    key = str(item_id)
    if key in run.outputs:
        return
    label = run.labels.get(item_id, key)
    try:
        prepared = None
        if run.kind.prepare is not None:
            with database.session() as session:
                prepared = run.kind.prepare(run, session, item_id)
        with database.transaction() as session:
            output = run.kind.step(run, session, item_id, prepared)
            record = _locked(session, job_id)
            if key in record.outputs:
                raise _AlreadyDone
            record.outputs = {**record.outputs, key: output}
            record.done += 1
    except _AlreadyDone:
        return
    except run.kind.expected as error:
        run.failed_item(label, run.kind.problems(error))
        return
    except Exception as error:
        log.exception("job %s: item %s failed", job_id, key)
        run.failed_item(label, [f"an unexpected error stopped it ({error})"])
        return
    refusals = run.postman.send_queued(database)
    if refusals and run.kind.mail_is_the_work:
        run.failed_item(label, refusals, count=False, undo=key)
    elif refusals:
        run.failed_item(label, [f"done, but {refusal}" for refusal in refusals], count=False)


def item_failed(
    database: Database, settings: Settings, job_id: int, item_id: int, sentence: str
) -> None:
    """Record that an item could not be done because the process doing it died."""
    run = _job_run(database, settings, job_id)
    run.failed_item(run.labels.get(item_id, str(item_id)), [f"the worker stopped: {sentence}"])


def finish_if_complete(database: Database, settings: Settings, job_id: int) -> bool:
    """End a running job whose every item has been tried, with its kind's summary; True if
    this call ended it (whoever does the last item calls it, so only one can)."""
    with database.transaction() as session:
        record = _locked(session, job_id)
        if record.state != JobState.RUNNING or record.total is None:
            return False
        if record.done < record.total:
            return False
        summary = KINDS[record.name].summary(record.outputs, record.total)
        record.state, record.summary, record.finished_at = JobState.DONE, summary, utcnow()
        return True


def _job_run(database: Database, settings: Settings, job_id: int) -> JobRun:
    with database.session() as session:
        record = session.get(Job, job_id)
        if record is None:
            raise JobError(f"there is no job {job_id}")
        return JobRun(
            database,
            settings,
            job_id,
            KINDS[record.name],
            record.requested_by,
            dict(record.params),
            dict(record.outputs),
            dict(record.items or []),
        )


@dataclass
class JobRun:
    """What a job's steps work with: the database, mail, the job's parameters, its progress."""

    database: Database
    settings: Settings
    job_id: int
    kind: Kind
    actor: str
    params: dict[str, Any]
    outputs: dict[str, Any]
    labels: dict[int, str]
    postman: Postman = field(init=False)

    def __post_init__(self) -> None:
        self.postman = Postman(self.settings.mail, self.settings.base_url)

    def upload(self, session: Session) -> bytes:
        """The file the job was given."""
        return _locked(session, self.job_id).upload or b""

    def finish(self, state: JobState, summary: str) -> None:
        with self.database.transaction() as session:
            record = _locked(session, self.job_id)
            record.state, record.summary, record.finished_at = state, summary, utcnow()

    def failed_item(
        self, label: str, sentences: list[str], *, count: bool = True, undo: str | None = None
    ) -> None:
        """List an item's problems; ``count`` it as tried (it will not be done this attempt);
        ``undo`` the output recorded under that key (its effect did not happen after all)."""
        with self.database.transaction() as session:
            record = _locked(session, self.job_id)
            if undo is not None:
                record.outputs = {k: v for k, v in record.outputs.items() if k != undo}
            added = [{"item": label, "error": sentence} for sentence in sentences]
            record.errors = [*record.errors, *added]
            record.done += count


def _locked(session: Session, job_id: int) -> Job:
    """A job's row, locked until the transaction ends (SQLite: the write lock is)."""
    record = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if record is None:
        raise JobError(f"job {job_id} is gone")
    return record


def find_job(session: Session, job_id: int) -> Job:
    record = session.get(Job, job_id)
    if record is None:
        raise JobError(f"there is no job {job_id}")
    return record


def recent_jobs(session: Session, limit: int = 50) -> list[Job]:
    """The latest jobs, newest first."""
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def progress(record: Job) -> dict[str, Any]:
    """A job's state as plain data: the JSON the progress page polls, and ``cl360 jobs show``."""
    return {
        "id": record.id,
        "name": record.name,
        "state": record.state.value,
        "done": record.done,
        "total": record.total,
        "errors": list(record.errors),
        "summary": record.summary,
        "sentence": sentence(record),
        "finished": record.state in (JobState.DONE, JobState.FAILED),
    }


def sentence(record: Job) -> str:
    """Where a job is, in words: its summary once it has ended."""
    if record.state == JobState.QUEUED:
        return "Waiting to start."
    if record.state == JobState.RUNNING:
        if record.total is None:
            return "Starting."
        return f"Working: {record.done} of {record.total} done."
    return record.summary or record.state.value
