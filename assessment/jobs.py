"""Jobs: long work that leaves the request, recorded in the ``job`` table whoever runs it.

A job is a name and plain-id parameters (never objects: a runner elsewhere reads everything
again from the database). :func:`submit` records it in the caller's transaction and only
flushes; the caller enqueues it on a runner once that transaction has committed, as it sends
queued mail (:mod:`assessment.runners`), so a job never runs on data a rollback took away.

A runner calls :func:`run`, which claims the job with a conditional UPDATE (queued → running;
the row count decides, so two processes never run one job), then calls the job's function
with a :class:`JobRun`. The function works item by item through :meth:`JobRun.each`: each item
has its own transaction, in which the job row is locked, the item skipped if an earlier attempt
finished it, and its output recorded beside its effect. So a job retried after its worker was
killed does every item exactly once, and a failing item is written down with its reason while
the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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

JobFunction = Callable[..., str]
"""A job: called with a :class:`JobRun` and the job's plain-id parameters; returns a summary."""

FUNCTIONS: dict[str, JobFunction] = {}


class JobError(RuntimeError):
    """A job cannot be found, submitted or retried as asked; the message says why."""


class Runner(Protocol):
    """Where committed jobs go to be run: threads of this process, or Celery workers."""

    def enqueue(self, job_id: int) -> None: ...


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register a job function under ``name``, the name :func:`submit` is given."""

    def register(function: JobFunction) -> JobFunction:
        FUNCTIONS[name] = function
        return function

    return register


def submit(
    session: Session, name: str, *, requested_by: str, coach_id: int | None = None, **ids: int
) -> Job:
    """Record a queued job in the caller's transaction (flushed, not committed).

    The caller enqueues ``job.id`` on its runner after committing, never before: a runner
    elsewhere could otherwise look for a row that does not exist yet, or never will.
    """
    if name not in FUNCTIONS:
        raise JobError(f"there is no job called {name!r}")
    record = Job(name=name, params=dict(ids), requested_by=requested_by, coach_id=coach_id)
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
    """Claim and run one job to its end; False when it was not queued (e.g. already claimed).

    A job function that raises leaves the job failed with a sentence saying why (and the
    traceback in the log); items it had finished stay recorded, so a retry carries on.
    """
    with database.transaction() as session:
        if not claim(session, job_id):
            return False
        record = session.get(Job, job_id)
        assert record is not None
        name, params, actor = record.name, dict(record.params), record.requested_by
    progress = JobRun(database, settings, job_id, actor)
    try:
        summary = FUNCTIONS[name](progress, **params)
    except Exception as error:
        log.exception("job %s (%s) failed", job_id, name)
        progress.finish(JobState.FAILED, f"The job stopped: {error}.")
    else:
        progress.finish(JobState.DONE, summary)
    return True


@dataclass
class JobRun:
    """What a running job function works with: the database, mail, and its own progress."""

    database: Database
    settings: Settings
    job_id: int
    actor: str
    postman: Postman = field(init=False)

    def __post_init__(self) -> None:
        self.postman = Postman(self.settings.mail, self.settings.base_url)

    def each(
        self,
        items: Sequence[tuple[int, str]],
        step: Callable[[Session, int], Output],
        expected: tuple[type[Exception], ...] = (),
    ) -> int:
        """Do ``step`` for each (id, label) item, one transaction each; how many are done,
        by this attempt or an earlier one.

        An item an earlier attempt finished is skipped. An item whose step raises one of the
        ``expected`` errors is rolled back and listed with that error's sentence; any other
        error is listed too (and logged), and the batch goes on either way. Mail a step
        queued is sent once its transaction has committed; a refusal is listed for its item.
        """
        done_before = self._start(items)
        succeeded = 0
        for item_id, label in items:
            key = str(item_id)
            if key in done_before:
                continue
            try:
                with self.database.transaction() as session:
                    record = self._locked(session)
                    if key in record.outputs:  # another runner of this job got here first
                        continue
                    output = step(session, item_id)
                    record.outputs = {**record.outputs, key: output}
                    record.done += 1
            except expected as error:
                self._failed_item(label, str(error))
                continue
            except Exception as error:
                log.exception("job %s: item %s failed", self.job_id, key)
                self._failed_item(label, f"an unexpected error stopped it ({error})")
                continue
            succeeded += 1
            for refusal in self.postman.send_queued(self.database):
                self._failed_item(label, f"done, but {refusal}", count=False)
        return len(done_before) + succeeded

    def finish(self, state: JobState, summary: str) -> None:
        with self.database.transaction() as session:
            record = self._locked(session)
            record.state, record.summary, record.finished_at = state, summary, utcnow()

    def _start(self, items: Sequence[tuple[int, str]]) -> set[str]:
        """Set the total and count the items done before; this attempt's errors start afresh."""
        with self.database.transaction() as session:
            record = self._locked(session)
            keys = {str(item_id) for item_id, _ in items}
            done_before = keys & set(record.outputs)
            record.total, record.done, record.errors = len(items), len(done_before), []
            return done_before

    def _failed_item(self, label: str, sentence: str, *, count: bool = True) -> None:
        with self.database.transaction() as session:
            record = self._locked(session)
            record.errors = [*record.errors, {"item": label, "error": sentence}]
            record.done += count

    def _locked(self, session: Session) -> Job:
        """This job's row, locked until the transaction ends (SQLite: the write lock is)."""
        record = session.scalar(select(Job).where(Job.id == self.job_id).with_for_update())
        if record is None:
            raise JobError(f"job {self.job_id} is gone")
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
