"""Cutting a problem into parts that can be solved apart.

Two jobs interact only through capacity they could both use: a (factory, resource)
with free hours inside both jobs' windows. Options that can never be used (credit
below the job's minimum, shipping that leaves no period, no capacity in the window)
connect nothing, so a national problem falls apart along processes and along regions
that lead times keep apart. Each connected group becomes one part.

A group bigger than `max_part_terms` is cut into regions: its capacity lines are put
in breadth-first order over the jobs they share (lines next to each other in that
order share jobs, so a region is a neighbourhood of the market) and cut into chunks of
about equal work. A job whose options all lie in one region belongs to it; a job with
options in several (the boundary) is solved in the region of its cheapest option, with
its options there only, and later reconciled with all of them (`matching.fanout.merge`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from matching.problem import Factory, Job, Problem

LineKey = tuple[int, str]  # (factory index, resource)
DEFAULT_MAX_PART_TERMS = 400_000


@dataclass(slots=True)
class Part:
    """A sub-problem: `jobs` are indices into the whole problem's jobs."""

    key: str
    jobs: list[int]
    problem: Problem
    terms: int


@dataclass(slots=True)
class Cut:
    """A group cut into regional parts; `boundary` jobs had options in several."""

    group: int
    parts: list[str]
    jobs: list[int]
    boundary: list[int]


@dataclass(slots=True)
class FanOut:
    problem: Problem
    parts: list[Part]
    cuts: list[Cut] = field(default_factory=list)

    @property
    def terms(self) -> int:
        return sum(p.terms for p in self.parts)


@dataclass(slots=True)
class _Usable:
    """Per job, its usable options: (option index, line, terms, cost)."""

    options: list[list[tuple[int, LineKey, int, float]]]


def fan_out(problem: Problem, max_part_terms: int = DEFAULT_MAX_PART_TERMS) -> FanOut:
    """The problem's independent groups as parts, big groups cut into regions."""
    usable = _usable_options(problem)
    groups = _groups(usable)
    fanned = FanOut(problem, [])
    for g, jobs in enumerate(groups):
        terms = sum(t for j in jobs for _, _, t, _ in usable.options[j])
        if terms <= max_part_terms:
            fanned.parts.append(_part(problem, f"g{g}", jobs, None, usable, terms))
            continue
        regions = math.ceil(terms / max_part_terms)
        cut = _cut(problem, g, jobs, usable, regions)
        fanned.cuts.append(cut[0])
        fanned.parts.extend(cut[1])
    return fanned


def _usable_options(problem: Problem) -> _Usable:
    periods = {name: t for t, name in enumerate(problem.periods)}
    factory_index = {f.id: i for i, f in enumerate(problem.factories)}
    free: dict[LineKey, list[bool]] = {}
    for i, factory in enumerate(problem.factories):
        for entry in factory.capacity:
            if entry.hours > 0:
                free.setdefault((i, entry.resource), [False] * len(periods))[
                    periods[entry.period]
                ] = True
    options: list[list[tuple[int, LineKey, int, float]]] = []
    for job in problem.jobs:
        release = periods[job.release_period] if job.release_period else 0
        due = periods[job.due_period] if job.due_period else len(periods) - 1
        mine: list[tuple[int, LineKey, int, float]] = []
        for o, option in enumerate(job.options):
            f = factory_index[option.factory]
            line: LineKey = (f, job.resource)
            if problem.factories[f].credit < job.min_credit or line not in free:
                continue
            terms = sum(free[line][release : due - option.lead_periods + 1])
            if terms:
                mine.append((o, line, terms, option.cost))
        options.append(mine)
    return _Usable(options)


def _groups(usable: _Usable) -> list[list[int]]:
    """Jobs connected through capacity lines, in order of their first job; jobs with no
    usable option form a group of their own (they can only stay unassigned)."""
    parent: dict[LineKey, LineKey] = {}

    def root(line: LineKey) -> LineKey:
        parent.setdefault(line, line)
        while parent[line] != line:
            parent[line] = parent[parent[line]]
            line = parent[line]
        return line

    for options in usable.options:
        for _, line, _, _ in options[1:]:
            a, b = root(options[0][1]), root(line)
            if a != b:
                parent[b] = a
    by_root: dict[LineKey | None, list[int]] = {}
    for j, options in enumerate(usable.options):
        by_root.setdefault(root(options[0][1]) if options else None, []).append(j)
    return list(by_root.values())


def _part(
    problem: Problem,
    key: str,
    jobs: list[int],
    lines: set[LineKey] | None,
    usable: _Usable,
    terms: int,
) -> Part:
    """The sub-problem of `jobs`; with `lines`, only options on those lines are kept."""
    factories: dict[int, None] = {}
    sub_jobs: list[Job] = []
    for j in jobs:
        job = problem.jobs[j]
        kept = [(o, line) for o, line, _, _ in usable.options[j] if lines is None or line in lines]
        options = tuple(job.options[o] for o, _ in kept)
        for _, line in kept:
            factories.setdefault(line[0], None)
        sub_jobs.append(
            job if options == job.options else job.model_copy(update={"options": options})
        )
    return Part(
        key=key,
        jobs=jobs,
        problem=sub_problem(problem, sub_jobs, [problem.factories[f] for f in sorted(factories)]),
        terms=terms,
    )


def sub_problem(problem: Problem, jobs: list[Job], factories: list[Factory]) -> Problem:
    return Problem(
        periods=problem.periods, factories=tuple(factories), jobs=tuple(jobs), params=problem.params
    )


def _cut(
    problem: Problem, g: int, jobs: list[int], usable: _Usable, regions: int
) -> tuple[Cut, list[Part]]:
    """The group's lines in breadth-first order over shared jobs, cut into `regions`
    chunks of about equal work; its jobs assigned to regions as the module says."""
    jobs_at: dict[LineKey, list[int]] = {}
    home: dict[int, LineKey] = {}
    weight: dict[LineKey, int] = {}
    for j in jobs:
        options = usable.options[j]
        for _, line, _, _ in options:
            jobs_at.setdefault(line, []).append(j)
        cheapest = min(options, key=lambda o: o[3])
        home[j] = cheapest[1]
        weight[cheapest[1]] = weight.get(cheapest[1], 0) + sum(t for _, _, t, _ in options)
    order: list[LineKey] = []
    seen: set[LineKey] = set()
    seen_jobs: set[int] = set()
    for start in sorted(jobs_at):
        if start in seen:
            continue
        seen.add(start)
        queue = deque([start])
        while queue:
            line = queue.popleft()
            order.append(line)
            for j in jobs_at[line]:
                if j in seen_jobs:
                    continue
                seen_jobs.add(j)
                for _, other, _, _ in usable.options[j]:
                    if other not in seen:
                        seen.add(other)
                        queue.append(other)
    total = sum(weight.values())
    region_of: dict[LineKey, int] = {}
    running = 0
    for line in order:
        region_of[line] = min(regions - 1, running * regions // max(total, 1))
        running += weight.get(line, 0)
    members: list[list[int]] = [[] for _ in range(regions)]
    boundary = []
    for j in jobs:
        homes = {region_of[line] for _, line, _, _ in usable.options[j]}
        if len(homes) > 1:
            boundary.append(j)
        members[region_of[home[j]]].append(j)
    parts = []
    for r, region_jobs in enumerate(members):
        if not region_jobs:
            continue
        lines = {line for line, region in region_of.items() if region == r}
        terms = sum(t for j in region_jobs for _, line, t, _ in usable.options[j] if line in lines)
        parts.append(_part(problem, f"g{g}.r{r}", region_jobs, lines, usable, terms))
    return Cut(g, [p.key for p in parts], jobs, boundary), parts
