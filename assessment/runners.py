"""The two runners of jobs (assessment/jobs.py): threads of the app, or Celery workers.

Without a broker, each app process runs its committed jobs on one background thread
(:class:`ThreadRunner`): ``./scripts/demo`` needs nothing else started, and several gunicorn
workers sharing a database never run one job twice, because :func:`assessment.jobs.claim`
decides with a conditional UPDATE. One thread, because on SQLite writers take turns anyway
and the machine's cores belong to the requests.

With ``CL360_BROKER_URL`` set, jobs go to Celery workers (:class:`CeleryRunner`), started by
``cl360 worker``, on this machine or others. The Celery app is made from the Flask app as
Flask's documentation shows (each task runs inside an app context). Its tasks take only ids:
one starts a job and sends each of its items as a task of its own, so every worker free takes
one (release-all of 48 leaders goes twice as fast on two workers); the worker that does the
last item ends the job. Everything else is read from the database.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import Celery, Task
from flask import Flask, current_app
from kombu.exceptions import OperationalError

from assessment import jobs
from assessment.config import Settings
from assessment.database import Database

log = logging.getLogger(__name__)

TASK = "cl360.run_job"
ITEM_TASK = "cl360.run_item"


class ThreadRunner:
    """Run each enqueued job on a background thread of this process."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cl360-job")

    def enqueue(self, job_id: int) -> None:
        self.pool.submit(self._run, job_id)

    def shutdown(self) -> None:
        """Wait for the jobs handed to this runner to end (a clean stop of the app)."""
        self.pool.shutdown(wait=True)

    def _run(self, job_id: int) -> None:
        # A thread's exception would otherwise vanish with its unread future.
        try:
            jobs.run(self.database, self.settings, job_id)
        except Exception:
            log.exception("job %s could not be run", job_id)


class CeleryRunner:
    """Send each enqueued job's id to the Celery workers through the broker."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def shutdown(self) -> None:
        """Nothing to wait for: the jobs run on the workers, not in this process."""

    def enqueue(self, job_id: int) -> None:
        try:
            self.celery.send_task(TASK, args=[job_id])
        except OperationalError:
            # The job is committed and stays queued; `cl360 jobs retry ID` sends it again.
            log.exception("job %s stays queued: the broker cannot be reached", job_id)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's settings: the broker, and no result store (the job table is the result).

    A task is acknowledged when a worker takes it (Celery's default). A worker killed
    mid-job leaves it running in the job table, and ``cl360 jobs retry ID --force`` sends it
    again; letting the broker redeliver it instead would run it beside a worker that was only
    slow, which the items' locks make harmless but the operator could not see.
    """
    return {
        "broker_url": settings.broker_url,
        # A queue of the product's own, so a broker shared with other applications keeps apart.
        "task_default_queue": "cl360",
        "task_ignore_result": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
    }


def celery_init_app(app: Flask) -> Celery:
    """The Celery app of a Flask app, as in Flask's documented pattern, with the job tasks."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()
    celery.task(name=TASK)(run_job)
    celery.task(name=ITEM_TASK)(run_item)
    app.extensions["celery"] = celery
    return celery


def _context() -> tuple[Database, Settings]:
    return current_app.extensions["cl360.db"], current_app.extensions["cl360.settings"]


def run_job(job_id: int) -> None:
    """Start a job and send each item it has to do to the workers as a task of its own."""
    database, settings = _context()
    pending = jobs.start(database, settings, job_id)
    if pending is None:
        return
    celery: Celery = current_app.extensions["celery"]
    for item_id in pending:
        celery.send_task(ITEM_TASK, args=[job_id, item_id])
    if not pending:
        jobs.finish_if_complete(database, settings, job_id)


def run_item(job_id: int, item_id: int) -> None:
    """Do one item of a job; the worker that does the last one ends the job."""
    database, settings = _context()
    jobs.run_item(database, settings, job_id, item_id)
    jobs.finish_if_complete(database, settings, job_id)


def install(app: Flask, database: Database, settings: Settings) -> jobs.Runner:
    """Give the app its runner: Celery when a broker is configured, threads otherwise."""
    runner: jobs.Runner
    if settings.broker_url:
        app.config["CELERY"] = celery_config(settings)
        runner = CeleryRunner(celery_init_app(app))
    else:
        runner = ThreadRunner(database, settings)
    app.extensions["cl360.jobs"] = runner
    return runner
