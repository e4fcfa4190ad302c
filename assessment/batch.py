"""Every report of a cohort at once, in parallel worker processes (PRODUCT §7).

:func:`plan_reports` reads what the batch needs in the calling process: the cohort's results
(scores, psychometrics, profiles: computed once, not once per leader) and one task per leader
plus one for the cohort report. :func:`run_reports` renders the tasks in a pool of worker
processes and reports each outcome as it arrives. A task that fails is recorded with a clear
message and the other tasks still finish.

Workers are started with ``spawn`` (no forked copies of the parent's connections or locks),
and each one opens its own :class:`~assessment.database.Database` from the URL in its
initializer: a SQLAlchemy engine is never shared across processes. Each writes its PDF itself
(to a temporary name, renamed when complete, so a failed task never leaves half a file) and
sends back only a small :class:`Outcome`.

``cl360 reports build`` wraps these two functions; a distributed task queue could call
:func:`render_task` the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select

from assessment.database import Database
from assessment.models import Cohort, Leader
from assessment.reporting import (
    cohort_report_data,
    cohort_report_filename,
    leader_report,
    report_filename,
)
from assessment.results import CohortResults, cohort_results
from reports.render import render_pdf

COHORT_TASK = "cohort"


class BatchError(ValueError):
    """The batch cannot start (for example, no such cohort)."""


@dataclass(frozen=True)
class Task:
    """One PDF to render: a leader's report (``leader_id``) or the cohort report (``None``)."""

    label: str
    path: Path
    leader_id: int | None = None


@dataclass(frozen=True)
class Plan:
    """What the workers need, read once in the calling process."""

    database_url: str
    cohort_id: int
    cohort_name: str
    results: CohortResults
    tasks: list[Task]
    today: date


@dataclass(frozen=True)
class Outcome:
    """How one task went, sent back by the worker that ran it."""

    task: Task
    error: str | None
    seconds: float
    worker_peak_mb: float
    """The worker process's peak resident memory so far (``ru_maxrss``)."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    elapsed: float = 0.0
    jobs: int = 1

    @property
    def rendered(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def peak_worker_mb(self) -> float:
        return max((o.worker_peak_mb for o in self.outcomes), default=0.0)

    def summary(self) -> str:
        return (
            f"rendered {self.rendered}, failed {len(self.failed)}, "
            f"elapsed {self.elapsed:.1f} s ({self.jobs} worker{'s' if self.jobs != 1 else ''})"
        )


def plan_reports(database: Database, slug: str, out: Path, today: date | None = None) -> Plan:
    """Read the cohort once and list the PDFs to render into ``out`` (created if missing)."""
    with database.session() as session:
        cohort = session.scalar(select(Cohort).where(Cohort.slug == slug))
        if cohort is None:
            raise BatchError(f"no cohort with the slug {slug!r}")
        results = cohort_results(session, cohort)
        leaders = session.scalars(
            select(Leader).where(Leader.cohort_id == cohort.id).order_by(Leader.name, Leader.id)
        ).all()
        tasks = [Task("cohort report", out / cohort_report_filename(cohort))]
        taken = {tasks[0].path.name}
        for leader in leaders:
            name = report_filename(leader)
            if name in taken:  # two leaders with the same name: keep both files
                name = name.replace("-360-report.pdf", f"-{leader.id}-360-report.pdf")
            taken.add(name)
            tasks.append(Task(leader.name, out / name, leader.id))
        plan = Plan(database.url, cohort.id, cohort.name, results, tasks, today or date.today())
    out.mkdir(parents=True, exist_ok=True)
    return plan


def run_reports(
    plan: Plan,
    jobs: int | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> BatchResult:
    """Render every task of ``plan`` in ``jobs`` worker processes (default: one per core)."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(plan.tasks) or 1))
    result = BatchResult(jobs=jobs)
    started = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(plan.database_url, plan.results, plan.today),
    ) as pool:
        futures: dict[Future[Outcome], Task] = {
            pool.submit(render_task, task): task for task in plan.tasks
        }
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # the worker itself died (killed, out of memory...)
                outcome = Outcome(futures[future], _describe(error), 0.0, 0.0)
            result.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    result.elapsed = time.perf_counter() - started
    return result


# -- inside a worker ----------------------------------------------------------------------

_worker: dict[str, object] = {}


def start_worker(database_url: str, results: CohortResults, today: date) -> None:
    """Pool initializer: this process's own engine, and the cohort's results."""
    _worker["database"] = Database(database_url)
    _worker["results"] = results
    _worker["today"] = today


def render_task(task: Task) -> Outcome:
    """Render one task and write its PDF; never raises, so one failure stops nothing else."""
    started = time.perf_counter()
    partial = task.path.with_name(f".{task.path.name}.partial")
    try:
        pdf = _render(task)
        partial.write_bytes(pdf)
        partial.replace(task.path)
        error = None
    except Exception as caught:
        partial.unlink(missing_ok=True)
        error = f"{task.label}: could not render the report: {_describe(caught)}"
    return Outcome(task, error, time.perf_counter() - started, _peak_mb())


def _render(task: Task) -> bytes:
    database = _worker["database"]
    results = _worker["results"]
    today = _worker["today"]
    assert isinstance(database, Database)
    assert isinstance(results, CohortResults)
    assert isinstance(today, date)
    with database.session() as session:
        if task.leader_id is None:
            cohort = session.scalar(select(Cohort).where(Cohort.slug == results.slug))
            if cohort is None:
                raise BatchError(f"cohort {results.slug!r} no longer exists")
            report = cohort_report_data(session, cohort, today, results=results)
        else:
            leader = session.get(Leader, task.leader_id)
            if leader is None or leader.cohort.slug != results.slug:
                raise BatchError(f"leader {task.leader_id} is no longer in the cohort")
            report = leader_report(session, leader, today, results=results)
    return render_pdf(report)


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
