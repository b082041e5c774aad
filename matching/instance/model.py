"""The integer instance: the problem's feasible (job, factory, period) choices in integers.

CP-SAT works on integers while the contract speaks in float hours and costs, so every
solver in this package (greedy, CP-SAT, LNS, rematch) works on one integer instance and
turns its allocations into plans in one place, `Instance.plan`, which is feasible in
the original float units:

* hours are scaled by `hours_scale` and costs by `cost_scale`: the smallest power of
  ten (up to 10**scaling.MAX_DECIMALS, small enough for exact integer arithmetic) that
  makes every value integral, reading each value as the decimal it was written as in
  the JSON (0.3333 is 3333 / 10**4, exactly). When no such scale exists, option hours
  are rounded UP and capacities DOWN, so a plan that fits the integer capacities fits
  the float ones, costs are rounded to the nearest unit, and the instance is not
  `exact`: a plan proven optimal for it is not proven optimal for the problem;
* a non-splittable job at a factory is an amount of `units` per period (1/hours_scale
  hours each) adding up to the option's `units`;
* a splittable job is an amount of 1/`split_units` of the job per (factory, period);
* one capacity unit is 1/(hours_scale * split_units) hours, so both kinds share the
  same integer capacity constraint.

`matching.instance.compile` builds the instance; options that can never be used are
dropped there, with the reason kept for `explain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from matching.problem import Assignment, Plan, PlanStatus, Problem, Unassigned

BucketKey = tuple[int, str, int]  # (factory index, resource, period index)


class InfeasibleAllocation(RuntimeError):
    """An internal error: an allocation that breaks the problem's constraints."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A usable option of a job: a factory and the periods in which it may produce."""

    option: int  # index in the job's `options`
    factory: int  # index in problem.factories
    hours: float  # option hours (the job's nominal hours unless overridden)
    cost: float  # price of the whole job there
    periods: tuple[int, ...]  # usable period indices, ascending
    buckets: tuple[int, ...]  # capacity bucket of each usable period
    units: int  # option hours in 1/hours_scale units, rounded up
    cost_units: int  # cost in 1/cost_scale units
    full: int  # amount that places the whole job: `units`, or split_units if splittable
    usage: int  # capacity units consumed per unit of amount


@dataclass(frozen=True, slots=True)
class Rejection:
    option: int
    factory: int
    reason: str
    detail: str


@dataclass(slots=True)
class JobInfo:
    index: int
    id: str
    hours: float
    splittable: bool
    release: int  # first period index in which production may happen
    due: int  # last period index of the job's window (shipping not counted)
    priority_units: int
    choices: tuple[Choice, ...]
    rejections: tuple[Rejection, ...]
    fill_full: int  # fill units of the whole job placed: priority units x split_units


# An allocation gives, per job, ((choice index, period position, amount), ...),
# period position indexing choice.periods / choice.buckets.
Placement = tuple[tuple[int, int, int], ...]
Allocation = list[Placement]


@dataclass(slots=True)
class Instance:
    problem: Problem
    hours_scale: int
    cost_scale: int
    priority_scale: int
    split_units: int
    jobs: list[JobInfo]
    bucket_keys: list[BucketKey]
    bucket_capacity: list[int]  # in capacity units
    bucket_hours: list[float]
    # Whether the integer instance is the problem itself: every hour, cost and priority
    # scaled without rounding. Only then can a proof about it (optimality, CP-SAT's cost
    # bound) be claimed for the problem; splittable jobs still move in 0.1% steps.
    exact: bool = True
    # Whether every (job, option, period) the problem allows (production possible in
    # the period, the option's window able to hold a non-splittable job whole) is a
    # choice here, which the LP bound needs to be a bound. Rounding can drop some: a
    # bucket of less than one unit, a window that holds the job only unrounded, a
    # bucket with less room than 0.1% of a splittable job.
    complete: bool = True

    # --- evaluation -----------------------------------------------------------------

    def job_fill(self, job: int, placement: Placement) -> int:
        info = self.jobs[job]
        if not placement:
            return 0
        if info.splittable:
            return info.priority_units * sum(amount for _, _, amount in placement)
        return info.fill_full

    def job_cost(self, job: int, placement: Placement) -> int:
        """Cost in 1/(cost_scale * split_units) units."""
        info = self.jobs[job]
        if not placement:
            return 0
        if info.splittable:
            return sum(info.choices[c].cost_units * amount for c, _, amount in placement)
        return info.choices[placement[0][0]].cost_units * self.split_units

    def score(self, allocation: Allocation, jobs: Iterable[int] | None = None) -> tuple[int, int]:
        """(fill units, cost units) of an allocation, over `jobs` or all jobs."""
        indices = range(len(self.jobs)) if jobs is None else jobs
        fill = cost = 0
        for j in indices:
            fill += self.job_fill(j, allocation[j])
            cost += self.job_cost(j, allocation[j])
        return fill, cost

    def total_fill_units(self) -> int:
        return sum(info.fill_full for info in self.jobs)

    def fill_fraction(self, fill_units: int) -> float:
        total = self.total_fill_units()
        return fill_units / total if total else 1.0

    def cost_value(self, cost_units: int) -> float:
        return cost_units / (self.cost_scale * self.split_units)

    def real_cost(self, allocation: Allocation, jobs: Iterable[int] | None = None) -> float:
        """Cost in the problem's own (unrounded) prices, as the plan reports it."""
        indices = range(len(self.jobs)) if jobs is None else jobs
        total = 0.0
        for j in indices:
            choices = self.jobs[j].choices
            for c, _, amount in allocation[j]:
                total += amount / choices[c].full * choices[c].cost
        return total

    def weighted_fill(self, allocation: Allocation, jobs: Iterable[int] | None = None) -> float:
        """Priority-weighted work placed, in the problem's own (unrounded) priorities."""
        indices = range(len(self.jobs)) if jobs is None else jobs
        total = 0.0
        for j in indices:
            placement = allocation[j]
            if not placement:
                continue
            info = self.jobs[j]
            share = (
                sum(amount for _, _, amount in placement) / self.split_units
                if info.splittable
                else 1.0
            )
            total += self.problem.jobs[j].priority * share
        return total

    def usage(self, allocation: Allocation, skip: Iterable[int] = ()) -> list[int]:
        """Capacity units used per bucket, leaving out the jobs in `skip`."""
        used = [0] * len(self.bucket_capacity)
        skipped = set(skip)
        for j, placement in enumerate(allocation):
            if j in skipped:
                continue
            for b, units in self.bucket_use(j, placement):
                used[b] += units
        return used

    def bucket_use(self, j: int, placement: Placement) -> Iterator[tuple[int, int]]:
        """(bucket, capacity units) of each part of job j's `placement`."""
        choices = self.jobs[j].choices
        for c, p, amount in placement:
            yield choices[c].buckets[p], amount * choices[c].usage

    def size(self, jobs: Iterable[int] | None = None) -> int:
        """(job, choice, period) triples of `jobs` (all jobs by default): the size of a
        CP-SAT model or LP over them."""
        indices = range(len(self.jobs)) if jobs is None else jobs
        return sum(len(c.buckets) for j in indices for c in self.jobs[j].choices)

    def check(self, allocation: Allocation) -> None:
        """Raise InfeasibleAllocation if the integer allocation breaks any constraint: the
        last line of defence before a plan leaves the engine."""
        used = self.usage(allocation)
        for b, amount in enumerate(used):
            if amount > self.bucket_capacity[b]:
                raise InfeasibleAllocation(f"capacity {self.bucket_keys[b]} exceeded")
        for j, placement in enumerate(allocation):
            info = self.jobs[j]
            total = sum(amount for _, _, amount in placement)
            if any(amount <= 0 for _, _, amount in placement):
                raise InfeasibleAllocation(f"job {info.id}: non-positive amount")
            if info.splittable:
                if total > self.split_units:
                    raise InfeasibleAllocation(f"job {info.id}: more than the whole job")
            elif placement and (
                len({c for c, _, _ in placement}) != 1
                or total != info.choices[placement[0][0]].full
            ):
                raise InfeasibleAllocation(f"job {info.id}: not placed whole on one factory")

    # --- conversion to the contract -------------------------------------------------

    def plan(
        self,
        allocation: Allocation,
        *,
        status: PlanStatus,
        bound: float | None,
        solve_s: float,
    ) -> Plan:
        problem = self.problem
        assignments: list[Assignment] = []
        unassigned: list[Unassigned] = []
        weighted = total_weight = cost = 0.0
        for j, placement in enumerate(allocation):
            info = self.jobs[j]
            job = problem.jobs[j]
            assigned_fraction = 0.0
            for c, p, amount in placement:
                choice = info.choices[c]
                fraction = amount / choice.full
                hours = fraction * choice.hours
                assigned_fraction += fraction
                cost += fraction * choice.cost
                assignments.append(
                    Assignment(
                        job=info.id,
                        factory=problem.factories[choice.factory].id,
                        period=problem.periods[choice.periods[p]],
                        hours=_clean(hours),
                    )
                )
            if placement and not info.splittable:
                assigned_fraction = 1.0
                _make_hours_add_up(assignments, len(placement), info.choices[placement[0][0]])
            left = 1.0 - assigned_fraction
            if left > 1e-12:
                unassigned.append(Unassigned(job=info.id, hours=_clean(left * info.hours)))
            weighted += job.priority * min(1.0, assigned_fraction)
            total_weight += job.priority
        return Plan(
            status=status,
            objective=_clean(cost),
            bound=None if bound is None else _clean(bound),
            assignments=tuple(assignments),
            unassigned=tuple(unassigned),
            solve_s=round(solve_s, 3),
            fill=weighted / total_weight if total_weight else 1.0,
        )

    def allocation_from_plan(self, plan: Plan) -> Allocation:
        """The part of a plan that is still feasible here, in integer amounts.

        Assignments to options, periods or capacity that no longer exist are dropped
        (a non-splittable job then loses its whole placement); what is kept fits the
        integer capacities, earlier jobs of the problem first.
        """
        problem = self.problem
        job_index = {job.id: j for j, job in enumerate(problem.jobs)}
        factory_index = {f.id: i for i, f in enumerate(problem.factories)}
        period_index = {name: t for t, name in enumerate(problem.periods)}
        wanted: dict[int, dict[tuple[int, int], float]] = {}
        for a in plan.assignments:
            j = job_index.get(a.job)
            f = factory_index.get(a.factory)
            t = period_index.get(a.period)
            if j is None or f is None or t is None or a.hours <= 0:
                continue
            for c, choice in enumerate(self.jobs[j].choices):
                if choice.factory == f and t in choice.periods:
                    key = (c, choice.periods.index(t))
                    wanted.setdefault(j, {})[key] = wanted.get(j, {}).get(key, 0.0) + a.hours
                    break
            else:
                wanted.setdefault(j, {})[(-1, -1)] = a.hours  # marks a lost part
        free = list(self.bucket_capacity)
        allocation: Allocation = [() for _ in self.jobs]
        for j in sorted(wanted):
            placement = self._fit_previous(j, wanted[j], free)
            for b, units in self.bucket_use(j, placement):
                free[b] -= units
            allocation[j] = placement
        return allocation

    def _fit_previous(
        self, j: int, parts: dict[tuple[int, int], float], free: list[int]
    ) -> Placement:
        info = self.jobs[j]
        lost = (-1, -1) in parts
        kept = {key: hours for key, hours in parts.items() if key != (-1, -1)}
        if not kept or (not info.splittable and (lost or len({c for c, _ in kept}) != 1)):
            return ()
        amounts = {
            (c, p): round(hours / info.choices[c].hours * info.choices[c].full)
            for (c, p), hours in sorted(kept.items())
        }
        keys = list(amounts)
        if not info.splittable:
            amounts[keys[-1]] += info.choices[keys[0][0]].full - sum(amounts.values())
            if amounts[keys[-1]] < 0:
                return ()
        else:
            excess = sum(amounts.values()) - self.split_units
            for key in reversed(keys):
                cut = min(max(excess, 0), amounts[key])
                amounts[key] -= cut
                excess -= cut
        placement = []
        for (c, p), amount in amounts.items():
            choice = info.choices[c]
            room = free[choice.buckets[p]] // choice.usage
            if amount > room:
                if not info.splittable:
                    return ()
                amount = room
            if amount > 0:
                placement.append((c, p, amount))
        return tuple(placement)

    def components(self) -> list[list[int]]:
        """Groups of jobs that share no capacity bucket with other groups (jobs without
        any choice are left out: nothing can change for them)."""
        parent = list(range(len(self.bucket_capacity)))

        def root(b: int) -> int:
            while parent[b] != b:
                parent[b] = parent[parent[b]]
                b = parent[b]
            return b

        for info in self.jobs:
            buckets = [b for choice in info.choices for b in choice.buckets]
            for b in buckets[1:]:
                ra, rb = root(buckets[0]), root(b)
                if ra != rb:
                    parent[rb] = ra
        groups: dict[int, list[int]] = {}
        for info in self.jobs:
            if info.choices:
                groups.setdefault(root(info.choices[0].buckets[0]), []).append(info.index)
        return sorted(groups.values(), key=lambda jobs: jobs[0])


def with_placements(allocation: Allocation, placements: dict[int, Placement]) -> Allocation:
    """A copy of `allocation` in which the jobs of `placements` have those instead."""
    merged = list(allocation)
    for j, placement in placements.items():
        merged[j] = placement
    return merged


def _clean(value: float) -> float:
    """Drop float noise such as 0.30000000000000004, keeping anything meaningful."""
    rounded = round(value, 9)
    return rounded if abs(rounded - value) < 1e-12 else value


def _make_hours_add_up(assignments: list[Assignment], count: int, choice: Choice) -> None:
    """Give the last period of a non-splittable job the remainder, so the option's hours
    add up exactly and not merely to within float noise."""
    if count < 2:
        if count == 1 and assignments[-1].hours != choice.hours:
            assignments[-1] = assignments[-1].model_copy(update={"hours": choice.hours})
        return
    head = sum(a.hours for a in assignments[-count:-1])
    assignments[-1] = assignments[-1].model_copy(update={"hours": choice.hours - head})
