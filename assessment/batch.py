"""Every report of a cohort at once, in parallel worker processes (docs/reports.md, "Batches").

:func:`plan_reports` lists, in the calling process, one task per leader plus one for the
cohort report. :func:`run_reports` renders the tasks in a pool of worker processes and reports
each outcome as it arrives. A task that fails is recorded with a clear message and the other
tasks still finish.

Workers are started with ``spawn`` (no forked copies of the parent's connections or locks).
Each one opens its own :class:`~assessment.database.Database` from the URL in its initializer
(a SQLAlchemy engine is never shared across processes) and computes the cohort's results
(scores, psychometrics, profiles) once, on its first task, for all the reports it renders.
Only plain values cross between processes: the URL, the cohort's id, the date, each task and its
outcome. Each worker writes its PDF itself (to a temporary name, renamed when complete, so a
failed task never leaves half a file).

``cl360 reports build`` wraps these two functions; a distributed task queue could call
:func:`start_worker` and :func:`render_task` the same way.
"""

from __future__ import annotations

import functools
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
from sqlalchemy.orm import Session

from assessment import disclosures
from assessment.database import Database
from assessment.models import Cohort, Disclosure, Leader
from assessment.reporting import (
    cohort_report_data,
    cohort_report_filename,
    leader_report,
    report_filename,
)
from assessment.results import CohortResults, cohort_results
from reports.build import IndividualReport
from reports.cohort import CohortReport
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
    """The PDFs to render for one cohort, listed in the calling process."""

    database_url: str
    cohort_id: int
    cohort_name: str
    tasks: list[Task]
    today: date
    limits: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Leaders whose reports use only some of their responses (the disclosure ledger's)."""
    reused: list[Task] = field(default_factory=list)
    """Reports written from the ledger's stored PDFs: nothing changed since they were made."""


@dataclass(frozen=True)
class Outcome:
    """How one task went, sent back by the worker that ran it."""

    task: Task
    error: str | None
    seconds: float
    worker_peak_mb: float
    """The worker process's own peak resident memory so far (see :func:`_peak_mb`)."""

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


def plan_reports(
    database: Database, cohort_id: int, out: Path, today: date | None = None, *, actor: str
) -> Plan:
    """List the PDFs to render into ``out`` (created if missing) for one cohort.

    The disclosure ledger decides each leader's responses (:mod:`assessment.disclosures`,
    which refuses an open cohort); a report already stored for those responses is written
    out at once, recorded, and left out of the tasks.
    """
    with database.transaction() as session:
        cohort = session.get(Cohort, cohort_id)
        if cohort is None:
            raise BatchError(f"there is no cohort {cohort_id}")
        decisions = disclosures.decide(session, cohort)
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
        out.mkdir(parents=True, exist_ok=True)
        reused = []
        for task in tasks:
            kind, subset, variant = disclosures.pdf_disclosure(decisions, task.leader_id)
            found = disclosures.stored(
                session, disclosures.artefact_key(cohort, kind, subset, variant)
            )
            if found is not None:
                task.path.write_bytes(disclosures.content_of(found))
                session.add(Disclosure(artefact_id=found.id, actor=actor))
                reused.append(task)
        limits = {
            leader: tuple(sorted(ids)) for leader, ids in disclosures.limits(decisions).items()
        }
        return Plan(
            database.url,
            cohort.id,
            cohort.name,
            [task for task in tasks if task not in reused],
            today or date.today(),
            limits,
            reused,
        )


def store_rendered(database: Database, plan: Plan, result: BatchResult, *, actor: str) -> None:
    """Keep every PDF the batch rendered in the ledger, so the next build reuses it."""
    with database.transaction() as session:
        cohort = session.get_one(Cohort, plan.cohort_id)
        decisions = disclosures.decide(session, cohort)
        for outcome in result.outcomes:
            if not outcome.ok:
                continue
            task = outcome.task
            kind, subset, variant = disclosures.pdf_disclosure(decisions, task.leader_id)
            pdf = task.path.read_bytes()
            disclosures.disclose(
                session,
                cohort,
                kind,
                subset,
                functools.partial(disclosures.Made, pdf, "application/pdf", task.path.name),
                actor=actor,
                variant=variant,
            )


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
        initargs=(plan.database_url, plan.cohort_id, plan.today, plan.limits),
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


@dataclass
class _Worker:
    database: Database
    cohort_id: int
    today: date
    limits: dict[int, tuple[str, ...]]
    results: CohortResults | None = None

    def cohort_results(self, session: Session) -> CohortResults:
        """The cohort's results, computed on the first task and kept for the others."""
        if self.results is None:
            cohort = session.get(Cohort, self.cohort_id)
            if cohort is None:
                raise BatchError("the cohort no longer exists")
            self.results = cohort_results(session, cohort, response_ids=self.limits)
        return self.results


_worker: _Worker | None = None


def start_worker(
    database_url: str, cohort_id: int, today: date, limits: dict[int, tuple[str, ...]]
) -> None:
    """Pool initializer: this process's own engine for one cohort."""
    global _worker
    _worker = _Worker(Database(database_url), cohort_id, today, limits)


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
    if _worker is None:
        raise BatchError("render_task runs in a worker started with start_worker")
    report: CohortReport | IndividualReport
    with _worker.database.session() as session:
        results = _worker.cohort_results(session)
        if task.leader_id is None:
            cohort = session.get_one(Cohort, _worker.cohort_id)
            report = cohort_report_data(session, cohort, _worker.today, results=results)
        else:
            leader = session.get(Leader, task.leader_id)
            if leader is None or leader.cohort_id != _worker.cohort_id:
                raise BatchError(f"leader {task.leader_id} is no longer in the cohort")
            report = leader_report(
                session,
                leader,
                _worker.today,
                results=results,
                response_ids=_worker.limits.get(leader.id),
            )
    return render_pdf(report)


def _peak_mb() -> float:
    """This worker's own peak resident memory, in MB.

    Linux's ``ru_maxrss`` keeps, across the exec that starts a spawned worker, the peak of the
    process it was forked from, so a worker started by a large process (a test runner, a web
    worker) would seem as large as its parent. ``VmHWM`` counts only this process's memory.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # not Linux: the portable figure, in kilobytes on most systems
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
