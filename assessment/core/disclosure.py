"""Disclosure across reports: which responses a later report may use after earlier ones.

A figure is a sum over raters divided by its n, and its SD gives the sum of squares too, so two
figures over overlapping rater pools give away the difference of the pools. Inside one report
the scoring rules guard against that (:mod:`assessment.core.scoring`). Across reports (one
released, then another computed after more responses came in) the check is general: split the
raters of each figure into "atoms", the raters that lie in exactly the same printed pools. Any
combination of printed figures is a combination of atom totals, and no combination isolates
less than an atom, so a set of reports is safe when every atom is empty or at least its
exposure minimum (docs/anonymity.md, "The disclosure ledger").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assessment.core.instruments import Instrument
from assessment.core.scoring import Pools, RaterResponse, Rules, exposure_minimum, printed_pools


@dataclass(frozen=True)
class Exposure:
    """Raters whose pooled answer to one figure could be worked out from the given reports."""

    figure: str  # "dimension:<id>" or "item:<id>"
    response_ids: frozenset[str]
    minimum: int


def exposures(
    instrument: Instrument,
    reports: Sequence[Mapping[str, RaterResponse]],
    rules: Rules | None = None,
) -> list[Exposure]:
    """Every pool of observers the reports' printed figures isolate below its exposure minimum.

    Each report is given as the responses (by response id) it is computed from; the figures it
    prints are what :func:`score_leader` returns for them. A pool that is exactly the raters of
    a figure some report prints is allowed that group's own minimum (a manager shown alone with
    a minimum of 1); any other pool needs :func:`exposure_minimum`. An empty list means safe.
    """
    rules = rules or Rules.from_instrument(instrument)
    relationship = {i: r.relationship for report in reports for i, r in report.items()}
    pools = [printed_pools(instrument, report, rules) for report in reports]
    return _exposed(pools, relationship, rules)


def _exposed(
    reports: Sequence[Pools], relationship: Mapping[str, str], rules: Rules
) -> list[Exposure]:
    """Split each figure's raters into atoms (same printed pools) and list the small ones."""
    found: list[Exposure] = []
    for figure in sorted({figure for pools in reports for figure in pools}):
        printed = [entry for pools in reports for entry in pools.get(figure, [])]
        signature: dict[str, list[int]] = {}
        for index, (pool, _) in enumerate(printed):
            for response_id in pool:
                signature.setdefault(response_id, []).append(index)
        atoms: dict[tuple[int, ...], set[str]] = {}
        for response_id, indexes in signature.items():
            atoms.setdefault(tuple(indexes), set()).add(response_id)
        shown_as_is: dict[frozenset[str], int] = {}
        for pool, minimum in printed:
            shown_as_is[pool] = min(minimum, shown_as_is.get(pool, minimum))
        for atom in map(frozenset, atoms.values()):
            minimum = shown_as_is.get(atom) or exposure_minimum(
                (relationship[r] for r in atom), rules
            )
            if len(atom) < minimum:
                found.append(Exposure(figure, atom, minimum))
    return found


@dataclass(frozen=True)
class Regeneration:
    """Which responses a regenerated report may be computed from, after an earlier release."""

    response_ids: frozenset[str]
    added: frozenset[str]
    """Responses used that the latest released report did not use (empty: figures unchanged)."""
    held_back: dict[str, int]
    """New responses per relationship that may not be used yet, because they would expose."""

    @property
    def unchanged(self) -> bool:
        return not self.added


def regeneration_responses(
    instrument: Instrument,
    responses: Mapping[str, RaterResponse],
    released: Sequence[Iterable[str]],
    rules: Rules | None = None,
) -> Regeneration:
    """The responses a later report for a leader may use without exposing anyone by difference.

    ``responses`` is every submitted response for the leader now, by response id; ``released``
    lists the response ids each report already released to the leader was computed from,
    oldest first. The answer is the latest released set plus as many whole rater groups of new
    responses as can be added without any figure, compared with every released report, giving
    away a pool of raters smaller than its minimum (:func:`exposures`): in practice a group
    joins when it has gained at least its minimum of new responses that rated every figure
    shown, and the Others total has gained at least its minimum. New self-assessments always
    join (the leader's own answers are no secret to the leader). Groups that cannot join yet are
    counted in ``held_back``; the figures they would change stay as released.

    Raises :class:`ValueError` when a released response no longer exists: submitted responses
    are never deleted, and a released report's figures could not be reproduced without it.
    """
    rules = rules or Rules.from_instrument(instrument)
    if not released:
        everything = frozenset(responses)
        return Regeneration(everything, everything, {})
    history_ids = [frozenset(ids) for ids in released]
    if missing := frozenset().union(*history_ids) - responses.keys():
        raise ValueError(
            f"{len(missing)} responses used by a released report no longer exist; "
            "the released report cannot be regenerated"
        )
    base = history_ids[-1]
    new_by_group: dict[str, list[str]] = {}
    for response_id in sorted(responses.keys() - base):
        new_by_group.setdefault(responses[response_id].relationship, []).append(response_id)
    base = base | frozenset(new_by_group.pop("self", []))
    relationship = {i: r.relationship for i, r in responses.items()}
    history = [
        printed_pools(instrument, {i: responses[i] for i in sorted(ids)}, rules)
        for ids in history_ids
    ]
    known = set(_exposed(history, relationship, rules))

    groups = sorted(new_by_group)
    options = [
        combination
        for size in range(len(groups), 0, -1)
        for combination in itertools.combinations(groups, size)
    ]
    # Most new responses first; ties keep the order above (more groups, then alphabetical).
    options.sort(key=lambda combination: -sum(len(new_by_group[g]) for g in combination))
    for combination in options:
        candidate = base.union(*(new_by_group[g] for g in combination))
        report = printed_pools(instrument, {i: responses[i] for i in sorted(candidate)}, rules)
        if set(_exposed([*history, report], relationship, rules)) <= known:
            held = {g: len(ids) for g, ids in new_by_group.items() if g not in combination}
            return Regeneration(candidate, candidate - history_ids[-1], held)
    held = {g: len(ids) for g, ids in new_by_group.items()}
    return Regeneration(base, base - history_ids[-1], held)
