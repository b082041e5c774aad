"""`compile_problem`: a contract problem as an integer `Instance`, in four steps.

1. `_capacity_entries`: the capacity entries of each bucket (factory, resource, period);
2. `_Scales.of`: the scales of hours, costs and priorities, and whether they are exact;
3. `_Buckets.of`: each bucket's capacity in integer units (empty buckets dropped);
4. `_JobCompiler`: per job its window, and per option a `Choice` (the periods in which
   it may produce) or the `Rejection` that keeps it out: the factory's credit is below
   the job's minimum, shipping leaves no period between the release and the due period
   less the lead time, or the window has no room for the job (for a non-splittable job,
   no room for all of it). On the way it finds whether the instance is `complete`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from matching.instance.model import BucketKey, Choice, Instance, JobInfo, Rejection
from matching.instance.scaling import MAX_DECIMALS, PRIORITY_DECIMALS, Scaled
from matching.problem import Job, JobOption, Problem
from matching.reasons import CREDIT_BELOW_MINIMUM, NO_CAPACITY, SHIPPING_TOO_SLOW

SPLIT_UNITS = 1000  # granularity of a splittable job: 0.1% of its work


def compile_problem(problem: Problem) -> Instance:
    """The integer instance of `problem` (units: see `matching.instance.model`)."""
    entries = _capacity_entries(problem)
    split_units = SPLIT_UNITS if any(j.splittable for j in problem.jobs) else 1
    scales = _Scales.of(problem, entries, split_units)
    buckets = _Buckets.of(entries, scales.hours, split_units)
    compiler = _JobCompiler(problem, scales, buckets, split_units)
    jobs = [compiler.job(j, job) for j, job in enumerate(problem.jobs)]
    return Instance(
        problem=problem,
        hours_scale=scales.hours.scale,
        cost_scale=scales.costs.scale,
        priority_scale=scales.priorities.scale,
        split_units=split_units,
        jobs=jobs,
        bucket_keys=buckets.keys,
        bucket_capacity=buckets.capacity,
        bucket_hours=buckets.hours,
        exact=scales.exact,
        complete=compiler.complete,
    )


def _capacity_entries(problem: Problem) -> dict[BucketKey, list[float]]:
    """The hours of every capacity entry, per bucket (factory, resource, period)."""
    period_index = {name: t for t, name in enumerate(problem.periods)}
    entries: dict[BucketKey, list[float]] = {}
    for f, factory in enumerate(problem.factories):
        for entry in factory.capacity:
            key = (f, entry.resource, period_index[entry.period])
            entries.setdefault(key, []).append(entry.hours)
    return entries


@dataclass(frozen=True, slots=True)
class _Scales:
    hours: Scaled
    costs: Scaled
    priorities: Scaled

    @classmethod
    def of(
        cls, problem: Problem, entries: dict[BucketKey, list[float]], split_units: int
    ) -> _Scales:
        all_hours = [h for hours in entries.values() for h in hours]
        for job in problem.jobs:
            all_hours.append(job.hours)
            all_hours.extend(o.hours for o in job.options if o.hours is not None)
        total_capacity = sum(sum(hours) for hours in entries.values())
        most_cost = sum(max((o.cost for o in j.options), default=0.0) for j in problem.jobs)
        return cls(
            hours=Scaled.fitting(all_hours, MAX_DECIMALS, total_capacity, split_units),
            costs=Scaled.fitting(
                [o.cost for j in problem.jobs for o in j.options],
                MAX_DECIMALS,
                most_cost,
                split_units,
            ),
            priorities=Scaled.fitting(
                [j.priority for j in problem.jobs],
                PRIORITY_DECIMALS,
                sum(j.priority for j in problem.jobs),
                split_units,
            ),
        )

    @property
    def exact(self) -> bool:
        """Whether every hour, cost and priority is scaled without rounding."""
        return self.hours.exact and self.costs.exact and self.priorities.exact


@dataclass(slots=True)
class _Buckets:
    """The instance's buckets (those with at least one capacity unit), and the capacity
    of every bucket the problem lists, in hours and in unrounded hour units."""

    index: dict[BucketKey, int]
    keys: list[BucketKey] = field(default_factory=list)
    capacity: list[int] = field(default_factory=list)  # capacity units
    hours: list[float] = field(default_factory=list)
    listed_hours: dict[BucketKey, float] = field(default_factory=dict)
    # Hour units, unrounded: summed exactly (0.1 + 0.2 h is 0.3 h).
    listed_measure: dict[BucketKey, int | Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: dict[BucketKey, list[float]], hours: Scaled, split_units: int) -> _Buckets:
        buckets = cls(
            index={},
            listed_hours={key: sum(values) for key, values in entries.items()},
            listed_measure={
                key: sum((hours.of(h) for h in values), hours.zero())
                for key, values in entries.items()
            },
        )
        for key in sorted(buckets.listed_measure, key=lambda k: (k[0], k[1], k[2])):
            units = hours.units(buckets.listed_measure[key], ROUND_FLOOR)
            if units <= 0:
                continue
            buckets.index[key] = len(buckets.keys)
            buckets.keys.append(key)
            buckets.capacity.append(units * split_units)
            buckets.hours.append(buckets.listed_hours[key])
        return buckets

    def usable(
        self, f: int, resource: str, release: int, end: int, usage: int
    ) -> list[tuple[int, int]]:
        """(period, bucket) of factory f's buckets in release..end with room for one unit."""
        usable = []
        for t in range(release, end + 1):
            b = self.index.get((f, resource, t))
            if b is not None and self.capacity[b] >= usage:
                usable.append((t, b))
        return usable

    def holds(self, usable: list[tuple[int, int]], full: int, usage: int, splittable: bool) -> bool:
        """Whether the buckets can take the job: any of it if splittable, else all of it."""
        return bool(usable) and (
            splittable or sum(self.capacity[b] // usage for _, b in usable) >= full
        )

    def free_hours(self, f: int, resource: str, release: int, end: int) -> float:
        """The hours listed for factory f's resource in release..end."""
        return sum(self.listed_hours.get((f, resource, t), 0.0) for t in range(release, end + 1))


class _JobCompiler:
    """Turns each job's options into choices and rejections; `complete` says whether
    every (job, option, period) the problem allows became a choice so far."""

    def __init__(self, problem: Problem, scales: _Scales, buckets: _Buckets, split_units: int):
        self.problem = problem
        self.scales = scales
        self.buckets = buckets
        self.split_units = split_units
        self.period_index = {name: t for t, name in enumerate(problem.periods)}
        self.factory_index = {f.id: i for i, f in enumerate(problem.factories)}
        self.complete = True

    def job(self, j: int, job: Job) -> JobInfo:
        release = self.period_index[job.release_period] if job.release_period else 0
        due = self.period_index[job.due_period] if job.due_period else len(self.problem.periods) - 1
        choices: list[Choice] = []
        rejections: list[Rejection] = []
        for o, option in enumerate(job.options):
            outcome = self._option(job, release, due, o, option)
            if isinstance(outcome, Choice):
                choices.append(outcome)
            else:
                rejections.append(outcome)
        priorities = self.scales.priorities
        priority_units = priorities.units(priorities.of(job.priority), ROUND_HALF_EVEN)
        return JobInfo(
            index=j,
            id=job.id,
            hours=job.hours,
            splittable=job.splittable,
            release=release,
            due=due,
            priority_units=priority_units,
            choices=tuple(choices),
            rejections=tuple(rejections),
            fill_full=priority_units * self.split_units,
        )

    def _option(
        self, job: Job, release: int, due: int, o: int, option: JobOption
    ) -> Choice | Rejection:
        f = self.factory_index[option.factory]
        factory = self.problem.factories[f]
        option_hours = job.hours_at(option)
        latest = due - option.lead_periods  # production ends by then to ship by `due`
        if factory.credit < job.min_credit:
            return Rejection(
                o,
                f,
                CREDIT_BELOW_MINIMUM,
                f"credit {factory.credit:g} is below the job's minimum {job.min_credit:g}",
            )
        periods = self.problem.periods
        if latest < release:
            return Rejection(
                o,
                f,
                SHIPPING_TOO_SLOW,
                (
                    f"shipping takes {option.lead_periods} period(s): production would"
                    f" have to end by {_period_name(periods, latest)}, before the release "
                    f"{periods[release]}"
                ),
            )
        hours = self.scales.hours
        measure = hours.of(option_hours)
        units = hours.units(measure, ROUND_CEILING)
        full = self.split_units if job.splittable else units
        usage = units if job.splittable else self.split_units
        usable = self.buckets.usable(f, job.resource, release, latest, usage)
        fits = self.buckets.holds(usable, full, usage, job.splittable)
        if job.splittable or not hours.exact:
            self.complete = self.complete and _keeps_every_period(
                usable if fits else [],
                measure,
                job.splittable,
                [
                    self.buckets.listed_measure.get((f, job.resource, t), 0)
                    for t in range(release, latest + 1)
                ],
            )
        if not fits:
            return Rejection(o, f, *self._why_no_room(job, option, f, release, due, full, usage))
        costs = self.scales.costs
        return Choice(
            option=o,
            factory=f,
            hours=option_hours,
            cost=option.cost,
            periods=tuple(t for t, _ in usable),
            buckets=tuple(b for _, b in usable),
            units=units,
            cost_units=costs.units(costs.of(option.cost), ROUND_HALF_EVEN),
            full=full,
            usage=usage,
        )

    def _why_no_room(
        self, job: Job, option: JobOption, f: int, release: int, due: int, full: int, usage: int
    ) -> tuple[str, str]:
        """(reason, detail) for an option whose window cannot hold the job: shipping
        when the job would fit by the due period itself, else the window's capacity."""
        periods = self.problem.periods
        latest = due - option.lead_periods
        free = self.buckets.free_hours(f, job.resource, release, latest)
        window = f"{periods[release]}..{periods[latest]}"
        job_hours = f"{job.hours_at(option):g} h"
        if not job.splittable:
            job_hours += " that cannot be split"
        until_due = self.buckets.usable(f, job.resource, release, due, usage)
        if latest < due and self.buckets.holds(until_due, full, usage, job.splittable):
            free_until_due = self.buckets.free_hours(f, job.resource, release, due)
            return SHIPPING_TOO_SLOW, (
                f"shipping takes {option.lead_periods} period(s): production would "
                f"have to end by {periods[latest]}, and {window} has {free:g} h of "
                f"{job.resource} for a job of {job_hours}"
                f" ({free_until_due:g} h up to the due period {periods[due]})"
            )
        return NO_CAPACITY, f"{free:g} h of {job.resource} in {window} for a job of {job_hours}"


def _keeps_every_period(
    usable: list[tuple[int, int]],
    hours: int | Decimal,
    splittable: bool,
    window: list[int | Decimal],
) -> bool:
    """Whether the periods an option kept (`usable`, empty when it was dropped) are all
    the problem allows it: each period of its window with any capacity (`window`, in the
    same unrounded units as the option's `hours`), provided (for a non-splittable job)
    the window holds the job whole."""
    if not splittable and sum(window) < hours:
        return True  # the cut: the problem allows none of them
    return len(usable) == sum(1 for there in window if there > 0)


def _period_name(periods: tuple[str, ...], t: int) -> str:
    return periods[t] if t >= 0 else f"{-t} period(s) before {periods[0]}"
