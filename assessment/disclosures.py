"""The disclosure ledger: every figure or comment that leaves the product, from which responses.

A reader who compares two disclosures for a leader learns the difference between the responses
they were computed from; so every disclosure (a scores export in any format, a leader's or the
cohort's PDF, the comments shown for moderation, a release) goes through here, and nothing else
reads observer responses for a coach (docs/anonymity.md, "The disclosure ledger"):

- **Nothing leaves an open cohort.** While raters may still answer, each new answer would move
  the figures by exactly that rater's contribution; :class:`CohortOpen` says so instead.
- **Each leader's responses are decided once per disclosure** (:func:`decide`): the responses
  of an earlier disclosure again, or — after the cohort was reopened and more answers came
  in — a set that differs from every disclosed one by enough new responses in each group whose
  figures change (:func:`assessment.core.disclosure.regeneration_responses`, the same rule releases
  always followed). New responses that cannot be used yet are *held back*, and said so.
- **What was disclosed is kept** (:class:`~assessment.models.Artefact`): asking again for the
  same thing from the same responses serves the same bytes, and every time is recorded
  (:class:`~assessment.models.Disclosure`).

Domain operations that only flush, like the rest of the package.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from assessment.cohorts import CohortError, cohort_instrument
from assessment.core.disclosure import regeneration_responses
from assessment.core.instruments import Instrument
from assessment.core.scoring import Rules, exposure_minimum
from assessment.models import (
    Artefact,
    ArtefactSet,
    Cohort,
    Disclosure,
    Leader,
    Relationship,
    Response,
    ResponseSet,
    utcnow,
)
from assessment.responses import leader_responses_by_id

if TYPE_CHECKING:
    from assessment.results import CohortResults


class CohortOpen(CohortError):
    """A disclosure was asked for while the cohort still takes answers."""

    def __init__(self, cohort: Cohort) -> None:
        super().__init__(
            f"'{cohort.name}' is still open, so no scores, reports or comments can be shown yet: "
            "while raters can still answer, each new answer would change the figures by exactly "
            "that person's answers. Close the cohort first; completion stays visible meanwhile."
        )


def digest(response_ids: Iterable[str]) -> str:
    """The name of a set of responses: SHA-256 of its sorted ids."""
    return hashlib.sha256(",".join(sorted(response_ids)).encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """The responses one leader's disclosure uses now, and the new ones it must leave out."""

    leader_id: int
    response_ids: frozenset[str]
    held_back: dict[str, int] = field(default_factory=dict)
    """New responses per rater group that would expose someone by difference if used now."""
    needed: dict[str, int] = field(default_factory=dict)
    """Per held-back group, at least how many more responses it needs before it can count."""
    everything: bool = True
    """Whether these are all the leader's responses (nothing held back)."""
    counts: dict[str, int] = field(default_factory=dict)
    """The decided responses per rater group."""

    @property
    def digest(self) -> str:
        return digest(self.response_ids)


def decide(
    session: Session,
    cohort: Cohort,
    leader_ids: Collection[int] | None = None,
    *,
    instrument: Instrument | None = None,
) -> dict[int, Decision]:
    """The responses each leader's next disclosure may use (all leaders, or ``leader_ids``).

    Reads every leader's response ids and disclosed sets in two queries; a leader's answers
    (and the cohort's instrument, unless given as ``instrument``) are read only when new
    responses arrived after an earlier disclosure and must be weighed.
    """
    if cohort.is_open:
        raise CohortOpen(cohort)
    query = select(Leader.id).where(Leader.cohort_id == cohort.id)
    if leader_ids is not None:
        query = query.where(Leader.id.in_(list(leader_ids)))
    chosen = list(session.scalars(query.order_by(Leader.id)))
    current: dict[int, set[str]] = {leader_id: set() for leader_id in chosen}
    group: dict[str, str] = {}
    for response_id, leader_id, relationship in session.execute(
        select(Response.id, Response.leader_id, Response.relationship_).where(
            Response.leader_id.in_(chosen)
        )
    ):
        current[leader_id].add(response_id)
        group[response_id] = Relationship(relationship).value
    history: dict[int, list[list[str]]] = {}
    for leader_id, ids in session.execute(
        select(ResponseSet.leader_id, ResponseSet.response_ids)
        .where(ResponseSet.leader_id.in_(chosen))
        .order_by(ResponseSet.id)
    ):
        history.setdefault(leader_id, []).append(ids)
    rules: Rules | None = None
    decisions: dict[int, Decision] = {}
    for leader_id in chosen:
        now = frozenset(current[leader_id])
        earlier = history.get(leader_id, [])
        if not earlier or any(frozenset(ids) == now for ids in earlier):
            decisions[leader_id] = Decision(leader_id, now, counts=_counts(now, group))
            continue
        instrument = instrument or cohort_instrument(cohort)
        rules = rules or Rules.from_instrument(instrument)
        leader = session.get_one(Leader, leader_id)
        regeneration = regeneration_responses(
            instrument, leader_responses_by_id(session, leader), earlier, rules
        )
        needed = {
            group: max(1, exposure_minimum([group], rules) - count)
            for group, count in regeneration.held_back.items()
        }
        decisions[leader_id] = Decision(
            leader_id,
            regeneration.response_ids,
            dict(regeneration.held_back),
            needed,
            everything=regeneration.response_ids == now,
            counts=_counts(regeneration.response_ids, group),
        )
    return decisions


def _counts(response_ids: Iterable[str], group: Mapping[str, str]) -> dict[str, int]:
    return dict(Counter(group[response_id] for response_id in response_ids))


def limits(decisions: Mapping[int, Decision]) -> dict[int, frozenset[str]]:
    """The decisions that leave responses out, as the ``response_ids`` the readers take."""
    return {
        leader_id: decision.response_ids
        for leader_id, decision in decisions.items()
        if not decision.everything
    }


@dataclass(frozen=True)
class Made:
    """What a disclosure hands out: the bytes (None for a page), their type and file name;
    ``compressed`` when the bytes are zlib-compressed already (large text, see :func:`scores`)."""

    content: bytes | None
    media_type: str
    filename: str
    compressed: bool = False


@dataclass(frozen=True)
class Ahead:
    """An artefact made before the transaction that records it.

    Rendering a PDF takes seconds; a writing transaction holds SQLite's one write lock (and a
    worker's database connection) all the while, so a job makes its PDFs in a reading session
    first (:func:`leader_pdf_ahead`, :func:`cohort_pdf_ahead`). The transaction uses it only if
    it arrives at the same key, i.e. the same responses; otherwise it makes the artefact again.
    """

    key: str
    made: Made | None
    """None when the artefact was stored already."""


def disclose(
    session: Session,
    cohort: Cohort,
    kind: str,
    decisions: Mapping[int, Decision],
    make: Callable[[], Made],
    *,
    actor: str,
    variant: str = "",
    ahead: Ahead | None = None,
) -> Artefact:
    """The artefact of ``kind`` for these decisions: the stored one if it exists, else made now
    (``make`` computes it from the decided responses, unless it was made ``ahead``) and
    stored; either way recorded.

    ``variant`` separates artefacts of one kind that differ by more than their responses
    (the leader a PDF is about).
    """
    key = artefact_key(cohort, kind, decisions, variant, _profile_model(session, cohort))
    artefact = stored(session, key)
    if artefact is None:
        made = ahead.made if ahead is not None and ahead.key == key and ahead.made else make()
        artefact = Artefact(
            cohort_id=cohort.id,
            kind=kind,
            key=key,
            media_type=made.media_type,
            filename=made.filename,
            content=made.content,
            compressed=made.compressed,
        )
        session.add(artefact)
        session.flush()
        ids = record_sets(session, decisions.values())
        session.execute(
            insert(ArtefactSet),
            [{"artefact_id": artefact.id, "response_set_id": i} for i in ids.values()],
        )
    session.add(Disclosure(artefact_id=artefact.id, actor=actor))
    session.flush()
    return artefact


def artefact_key(
    cohort: Cohort,
    kind: str,
    decisions: Mapping[int, Decision],
    variant: str = "",
    profile_model: int | None = None,
) -> str:
    """The name of what a disclosure of ``kind`` shows from these responses, assigned to this
    stored profile model (a report made before profiles were fitted is not the one after)."""
    return hashlib.sha256(
        "\n".join(
            [kind, str(cohort.id), variant, f"profiles:{profile_model}"]
            + [f"{leader_id}:{decisions[leader_id].digest}" for leader_id in sorted(decisions)]
        ).encode()
    ).hexdigest()


def _profile_model(session: Session, cohort: Cohort) -> int | None:
    from assessment.results import profile_model_id

    return profile_model_id(session, cohort)


def named(
    session: Session, cohort: Cohort, artefact_ids: Iterable[int]
) -> Iterator[tuple[str, Artefact]]:
    """Stored artefacts of a cohort (what a job prepared) by file name, to hand out again.

    Only what was disclosed already is named, so no rule is weighed again; an open cohort
    refuses, as for every disclosure. Two files of one name (two leaders called alike) are
    told apart by a number.
    """
    if cohort.is_open:
        raise CohortOpen(cohort)
    names: Counter[str] = Counter()
    for artefact in session.scalars(
        select(Artefact)
        .where(Artefact.id.in_(list(artefact_ids)), Artefact.cohort_id == cohort.id)
        .order_by(Artefact.filename, Artefact.id)
    ):
        names[artefact.filename] += 1
        name = artefact.filename
        if names[name] > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}-{names[name]}{dot}{suffix}"
        yield name, artefact


def bundle(
    session: Session, cohort: Cohort, artefact_ids: Iterable[int], *, actor: str
) -> IO[bytes]:
    """Those artefacts as one ZIP file, each one's disclosure logged. The PDFs are compressed
    already, so they are stored as they are; the file is held in memory, as the artefacts
    read from the database are (a cohort of 200 leaders: about 60 MB)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, artefact in named(session, cohort, artefact_ids):
            with archive.open(name, "w") as member:
                for piece in content_chunks(artefact):
                    member.write(piece)
            session.add(Disclosure(artefact_id=artefact.id, actor=actor))
    session.flush()
    out.seek(0)
    return out


def stored(session: Session, key: str) -> Artefact | None:
    return session.scalar(select(Artefact).where(Artefact.key == key))


def content_of(artefact: Artefact) -> bytes:
    """The whole content (for what is small enough to hold: PDFs, workbooks)."""
    return b"".join(content_chunks(artefact))


def content_chunks(artefact: Artefact, size: int = 1 << 20) -> Iterator[bytes]:
    """The content piece by piece, never all of a large export in memory at once.

    The stored bytes are read now, so the pieces can still be produced after the session that
    loaded the artefact has closed (a streamed download outlives its request's transaction).
    """
    return _pieces(artefact.content or b"", artefact.compressed, size)


def _pieces(content: bytes, compressed: bool, size: int) -> Iterator[bytes]:
    if not compressed:
        if content:
            yield content
        return
    inflate = zlib.decompressobj()
    for start in range(0, len(content), size):
        if piece := inflate.decompress(content[start : start + size]):
            yield piece
    if rest := inflate.flush():
        yield rest


class _Deflating(io.RawIOBase):
    """A binary sink that keeps only the zlib-compressed form of what is written to it."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(1)
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(self._deflate.compress(bytes(data)))
        return len(data)

    def finish(self) -> bytes:
        self._parts.append(self._deflate.flush())
        return b"".join(self._parts)


def compressed_text(write: Callable[[IO[str]], object]) -> bytes:
    """What ``write`` writes as UTF-8 text, compressed as it is written: a ten-thousand-leader
    export never exists uncompressed in memory."""
    sink = _Deflating()
    text = io.TextIOWrapper(io.BufferedWriter(sink, 1 << 20), encoding="utf-8", newline="")
    write(text)
    text.flush()
    return sink.finish()


def record_sets(session: Session, decisions: Iterable[Decision]) -> dict[tuple[int, str], int]:
    """The ledger's entry for each decided set, added when it is new: its id by (leader, digest).

    Read by leader alone (a leader has a handful of sets; matching digests too in SQL made
    SQLite's planner take 14 s at ten thousand leaders) and written with one bulk insert that
    returns the new ids.
    """
    wanted = {(d.leader_id, d.digest): d for d in decisions}
    existing = {
        (leader_id, set_digest): set_id
        for set_id, leader_id, set_digest in session.execute(
            select(ResponseSet.id, ResponseSet.leader_id, ResponseSet.digest).where(
                ResponseSet.leader_id.in_({leader for leader, _ in wanted})
            )
        )
    }
    missing = [d for key, d in wanted.items() if key not in existing]
    if missing:
        now = utcnow()
        rows = [
            {
                "leader_id": d.leader_id,
                "digest": d.digest,
                "response_ids": sorted(d.response_ids),
                "counts": dict(d.counts),
                "created_at": now,
            }
            for d in missing
        ]
        added = session.execute(
            insert(ResponseSet).returning(
                ResponseSet.id, ResponseSet.leader_id, ResponseSet.digest
            ),
            rows,
        )
        existing.update(((leader_id, digest), set_id) for set_id, leader_id, digest in added)
    return {key: existing[key] for key in wanted}


def groups_of(session: Session, response_ids: Iterable[str]) -> dict[str, str]:
    """The rater group of each response."""
    found: dict[str, str] = {}
    ids = sorted(response_ids)
    for start in range(0, len(ids), 5000):
        found.update(
            (response_id, Relationship(relationship).value)
            for response_id, relationship in session.execute(
                select(Response.id, Response.relationship_).where(
                    Response.id.in_(ids[start : start + 5000])
                )
            )
        )
    return found


def held_back_lines(decision: Decision, rules: Rules) -> list[str]:
    """Why newer responses are not in a disclosure yet, one sentence per group, for the coach."""
    return [
        f"{rules.label(group)}: {count} new response{'s' if count != 1 else ''} held back "
        f"until at least {decision.needed.get(group, 1)} more arrive"
        for group, count in sorted(decision.held_back.items())
    ]


# -- The disclosures themselves --------------------------------------------------------------

SCORE_FORMATS = {
    "csv": ("scores_csv", "text/csv; charset=utf-8"),
    "json": ("scores_json", "application/json"),
    "xlsx": ("scores_xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def _decided(
    session: Session, cohort: Cohort
) -> tuple[dict[int, Decision], Callable[[], CohortResults]]:
    """Each leader's decided responses for a disclosure of the cohort's figures, and the
    cohort's results from exactly those, worked out only when called (an artefact already
    stored needs none); the cohort's instrument is read once for both."""
    from assessment.results import cohort_results

    instrument = cohort_instrument(cohort)
    decisions = decide(session, cohort, instrument=instrument)

    def results() -> CohortResults:
        return cohort_results(
            session, cohort, instrument=instrument, response_ids=limits(decisions)
        )

    return decisions, results


def scores(session: Session, cohort: Cohort, fmt: str, *, actor: str) -> Artefact:
    """The cohort's scores export (``cl360 scores export``, the coach's CSV and XLSX)."""
    from assessment import exports

    kind, media_type = SCORE_FORMATS[fmt]
    decisions, decided_results = _decided(session, cohort)

    def make() -> Made:
        results = decided_results()
        filename = f"{cohort.slug}-scores.{fmt}"
        if fmt == "xlsx":
            return Made(
                exports.to_xlsx(exports.CSV_COLUMNS, exports.csv_rows(results)),
                media_type,
                filename,
            )
        writer = exports.write_csv if fmt == "csv" else exports.write_json
        body = compressed_text(lambda out: writer(results, out))
        return Made(body, media_type, filename, compressed=True)

    return disclose(session, cohort, kind, decisions, make, actor=actor)


@dataclass(frozen=True)
class _Pdf:
    """A PDF about to be disclosed: what names it, and how to make it."""

    cohort: Cohort
    kind: str
    decisions: dict[int, Decision]
    variant: str
    make: Callable[[], Made]

    def disclose(self, session: Session, actor: str, ahead: Ahead | None) -> Artefact:
        return disclose(
            session,
            self.cohort,
            self.kind,
            self.decisions,
            self.make,
            actor=actor,
            variant=self.variant,
            ahead=ahead,
        )

    def ahead(self, session: Session) -> Ahead:
        profiles = _profile_model(session, self.cohort)
        key = artefact_key(self.cohort, self.kind, self.decisions, self.variant, profiles)
        return Ahead(key, None if stored(session, key) is not None else self.make())


def _leader_pdf(session: Session, leader: Leader) -> _Pdf:
    from assessment.reporting import leader_report, report_filename
    from reports.render import render_pdf

    cohort = leader.cohort
    decisions, results = _decided(session, cohort)

    def make() -> Made:
        report = leader_report(
            session, leader, results=results(), response_ids=decisions[leader.id].response_ids
        )
        return Made(render_pdf(report), "application/pdf", report_filename(leader))

    kind, subset, variant = pdf_disclosure(decisions, leader.id)
    return _Pdf(cohort, kind, subset, variant, make)


def leader_pdf(
    session: Session, leader: Leader, *, actor: str, ahead: Ahead | None = None
) -> Artefact:
    """A leader's report as the coach downloads it, or as it is released to the leader."""
    return _leader_pdf(session, leader).disclose(session, actor, ahead)


def leader_pdf_ahead(session: Session, leader: Leader) -> Ahead:
    """A leader's report made in a reading session, for :func:`leader_pdf` to record."""
    return _leader_pdf(session, leader).ahead(session)


def pdf_disclosure(
    decisions: Mapping[int, Decision], leader_id: int | None
) -> tuple[str, dict[int, Decision], str]:
    """Kind, responses and variant of a leader's PDF (the cohort report for ``None``): a
    leader's report is named by that leader's responses alone, the cohort's by everyone's."""
    if leader_id is None:
        return "cohort_pdf", dict(decisions), ""
    return "report_pdf", {leader_id: decisions[leader_id]}, str(leader_id)


def _cohort_pdf(session: Session, cohort: Cohort) -> _Pdf:
    from assessment.reporting import cohort_report_data, cohort_report_filename
    from reports.render import render_pdf

    decisions, results = _decided(session, cohort)

    def make() -> Made:
        pdf = render_pdf(cohort_report_data(session, cohort, results=results()))
        return Made(pdf, "application/pdf", cohort_report_filename(cohort))

    kind, subset, variant = pdf_disclosure(decisions, None)
    return _Pdf(cohort, kind, subset, variant, make)


def cohort_pdf(
    session: Session, cohort: Cohort, *, actor: str, ahead: Ahead | None = None
) -> Artefact:
    """The coach's cohort report."""
    return _cohort_pdf(session, cohort).disclose(session, actor, ahead)


def cohort_pdf_ahead(session: Session, cohort: Cohort) -> Ahead:
    """The cohort report made in a reading session, for :func:`cohort_pdf` to record."""
    return _cohort_pdf(session, cohort).ahead(session)


@dataclass(frozen=True)
class ShownComments:
    """The comments the moderation page may show, from the decided responses."""

    decision: Decision
    allowed: bool
    comments: list[Any]


def comments_for_moderation(
    session: Session, leader: Leader, *, actor: str, secret: str
) -> ShownComments:
    """The observer comments a coach moderates: those of the responses a release would use."""
    from assessment import moderation
    from assessment.core.scoring import score_leader

    cohort = leader.cohort
    instrument = cohort_instrument(cohort)
    decision = decide(session, cohort, [leader.id])[leader.id]
    responses = leader_responses_by_id(session, leader, decision.response_ids)
    allowed = score_leader(
        instrument, responses.values(), Rules.from_instrument(instrument)
    ).comments_allowed
    if not allowed:
        return ShownComments(decision, False, [])
    shown = moderation.leader_comments(
        session, leader, instrument, secret, response_ids=decision.response_ids
    )
    disclose(
        session,
        cohort,
        "comments",
        {leader.id: decision},
        lambda: Made(None, "text/html", "comments"),
        actor=actor,
        variant=str(leader.id),
    )
    return ShownComments(decision, True, shown)
