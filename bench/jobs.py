"""Benchmark: jobs on Celery workers against one worker, against a plain loop, and a repeated
download of a stored report.

Every figure is a ratio against a baseline measured in the same run, on the same machine:

(a) **Release all** of ``--leaders`` leaders (48) through the broker on 2 Celery worker
    processes (``cl360 worker --concurrency 2``) against 1 (``--concurrency 1``): throughput
    ratio, wall time from the job's enqueueing to its end. Target: at least 1.7x. The same
    control as ``bench/reports.py`` runs beside it (equal pure-CPU tasks in 2 processes against
    1): when other work holds a core, no runner can do better than the control does.
(b) **Queue overhead**: the "all reports" job of the same cohort (48 reports and the cohort
    report) on 1 Celery worker against the very same job done by :func:`assessment.jobs.run`
    in a loop in this process. Target: at most 5% more wall time.
(c) A coach's **repeated download** of an unchanged report, through the web app in process
    (the Flask test client, signed in): the first download renders and stores it, the next
    are served from the disclosure ledger's store. Target: under 50 ms a request; the ratio to
    the first download is printed beside it.

Between runs the cohort's releases, stored reports and mail are deleted, so every run does the
whole work. The database is a fresh SQLite file built as ``bench/reports.py`` builds its own;
the broker is the local Redis (``--broker``, a database of its own, emptied before and after).

    .venv/bin/python bench/jobs.py [--leaders 48] [--broker redis://127.0.0.1:6379/9] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import redis  # noqa: E402
from sqlalchemy import delete, select  # noqa: E402

from assessment import jobs  # noqa: E402
from assessment.app import create_app  # noqa: E402
from assessment.cohort_jobs import BUILD_REPORTS, RELEASE_ALL  # noqa: E402
from assessment.config import Settings  # noqa: E402
from assessment.database import Database  # noqa: E402
from assessment.models import (  # noqa: E402
    AccessLink,
    Artefact,
    Job,
    JobState,
    Leader,
    MailMessage,
    ReportRelease,
)
from bench.reports import build, machine_parallelism  # noqa: E402

CL360 = PROJECT / ".venv" / "bin" / "cl360"
COACH = ("bench@example.org", "a long benchmark password")


def environment(url: str, broker: str, folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CL360_BROKER_URL": broker,
        "CL360_INSTANCE": str(folder / "instance"),
        "SECRET_KEY": "benchmark secret key",
    }


def settings_for(url: str, broker: str, folder: Path) -> Settings:
    return Settings.from_environment(environment(url, broker, folder))


def afresh(database: Database) -> None:
    """Undo every release, stored report and mail, so the next run does the whole work."""
    with database.transaction() as session:
        for model in (ReportRelease, Artefact, MailMessage):
            session.execute(delete(model))
        session.execute(delete(AccessLink).where(AccessLink.leader_id.is_not(None)))


class Workers:
    """``cl360 worker`` as its own process, started and stopped around one measurement."""

    def __init__(self, env: dict[str, str], concurrency: int) -> None:
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [str(CL360), "worker", "--concurrency", str(concurrency), "--without-heartbeat",
             "--without-gossip", "--without-mingle", "--hostname", f"bench{concurrency}@%h"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        threading.Thread(target=self._watch, daemon=True).start()
        if not self.ready.wait(120):
            self.stop()
            raise SystemExit("the Celery worker did not start within 120 s")

    def _watch(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if " ready." in line:
                self.ready.set()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def submit(database: Database, name: str, cohort_id: int) -> int:
    with database.transaction() as session:
        return jobs.submit(session, name, requested_by="bench", cohort_id=cohort_id).id


def wait(database: Database, job_id: int, seconds: float = 1800) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with database.session() as session:
            record = session.get(Job, job_id)
            assert record is not None
            if record.state in (JobState.DONE, JobState.FAILED):
                return record
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not finish in {seconds} s")


def on_celery(
    url: str, broker: str, folder: Path, name: str, cohort_id: int, concurrency: int
) -> float:
    """Wall seconds of one job on ``concurrency`` worker processes, from enqueue to its end."""
    database = Database(url)
    afresh(database)
    app = create_app(settings_for(url, broker, folder))
    workers = Workers(environment(url, broker, folder), concurrency)
    try:
        job_id = submit(database, name, cohort_id)
        started = time.perf_counter()
        app.extensions["cl360.jobs"].enqueue(job_id)
        record = wait(database, job_id)
        elapsed = time.perf_counter() - started
    finally:
        workers.stop()
        database.dispose()
    check(record)
    return elapsed


def in_a_loop(url: str, broker: str, folder: Path, name: str, cohort_id: int) -> float:
    """Wall seconds of the same job done by the same functions in this process."""
    database = Database(url)
    afresh(database)
    settings = dataclasses.replace(settings_for(url, broker, folder), broker_url="")
    job_id = submit(database, name, cohort_id)
    started = time.perf_counter()
    jobs.run(database, settings, job_id)
    elapsed = time.perf_counter() - started
    record = wait(database, job_id)
    database.dispose()
    check(record)
    return elapsed


def check(record: Job) -> None:
    if record.state != JobState.DONE or record.errors:
        raise SystemExit(f"job {record.id} ({record.name}): {record.summary} {record.errors}")


def repeated_download(url: str, broker: str, folder: Path, cohort_id: int) -> tuple[float, float]:
    """Seconds of the first download of one leader's report, and the median of the next 20."""
    database = Database(url)
    afresh(database)
    settings = dataclasses.replace(settings_for(url, broker, folder), broker_url="")
    app = create_app(settings)
    with database.session() as session:
        leader_id = session.scalars(select(Leader.id).where(Leader.cohort_id == cohort_id)).first()
        slug = session.get_one(Leader, leader_id).cohort.slug
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"email": COACH[0], "password": COACH[1], "csrf_token": token})
    path = f"/cohorts/{slug}/leaders/{leader_id}/report.pdf"
    times = []
    for _ in range(21):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        if response.status_code != 200 or response.mimetype != "application/pdf":
            raise SystemExit(f"the download answered {response.status_code}")
    database.dispose()
    return times[0], statistics.median(times[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaders", type=int, default=48)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--keep", type=Path, help="keep the database here")
    args = parser.parse_args(argv)
    try:
        redis.Redis.from_url(args.broker, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        raise SystemExit(f"the broker {args.broker} does not answer: {error}") from None
    folder = Path(tempfile.mkdtemp(prefix="cl360-bench-")) if args.keep is None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        url, _demo_leader, cohort_id = build(folder, args.leaders)
        print(f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f}")
        control_one = machine_parallelism(1)
        one = on_celery(url, args.broker, folder, RELEASE_ALL, cohort_id, 1)
        control_two = machine_parallelism(2)
        two = on_celery(url, args.broker, folder, RELEASE_ALL, cohort_id, 2)
        speedup, control = one / two, control_one / control_two
        print(
            f"(a) release all, {args.leaders} leaders: 1 worker {one:.1f} s, 2 workers {two:.1f} s; "
            f"throughput {speedup:.2f}x (target >= 1.7x) {'OK' if speedup >= 1.7 else 'MISSED'}"
        )
        print(
            f"    control, pure CPU work in 2 processes against 1: {control:.2f}x; the workers "
            f"reach {speedup / control:.0%} of it (load average now {os.getloadavg()[0]:.2f})"
        )
        loop = in_a_loop(url, args.broker, folder, BUILD_REPORTS, cohort_id)
        queued = on_celery(url, args.broker, folder, BUILD_REPORTS, cohort_id, 1)
        overhead = queued / loop - 1
        print(
            f"(b) all reports, {args.leaders + 1} PDFs: in a loop {loop:.1f} s, through Celery "
            f"on 1 worker {queued:.1f} s; overhead {overhead:+.1%} (target <= +5%) "
            f"{'OK' if overhead <= 0.05 else 'MISSED'}"
        )
        first, again = repeated_download(url, args.broker, folder, cohort_id)
        print(
            f"(c) a repeated download of a stored report: {again * 1000:.0f} ms (target < 50 ms) "
            f"{'OK' if again < 0.05 else 'MISSED'}; the first, which rendered it: "
            f"{first * 1000:.0f} ms ({first / again:.0f}x)"
        )
    finally:
        redis.Redis.from_url(args.broker).flushdb()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
