"""The CP-SAT model of (part of) an instance: the formulation the engine solves.

A model covers a set of free jobs, optionally restricted to a set of factories, against
the capacity left by every other job, which stays fixed. The whole problem is the case
with all jobs free; a large-neighbourhood-search move is a small one. The contract is
docs/matching-problem.md; `matching.instance` states it in the integers used here.

Sets and indices
  j in J       the free jobs (`jobs`); J_s the splittable ones, J_w the others.
  c in C_j     the choices of job j (`instance.jobs[j].choices`): its options that pass
               rules E1 to E3 below, and whose factory is in F when F is given
               (`factories`).
  p in P_c     the period positions of choice c: production in period `choice.periods[p]`
               uses capacity bucket b(c, p) = `choice.buckets[p]`.
  b in B       the capacity buckets, one per (factory, resource, period) with capacity
               (`instance.bucket_keys`).

Data (integers, in the units of `matching.instance`)
  S         `instance.split_units`: 1000 if any job is splittable, else 1.
  R_b       `residual[b]`: capacity units of bucket b not used by the fixed jobs.
  n_c       `choice.full`: the amount that places the whole job at c (option hours in
            1/hours_scale units for j in J_w; S, that is all of the job, for j in J_s).
  u_c       `choice.usage`: capacity units (1/(hours_scale * S) h) per unit of amount:
            S for j in J_w, the option's hours in 1/hours_scale units for j in J_s.
  r_jcp     `room[p]`: min(n_c, floor(R_b(c,p) / u_c)), the most bucket b(c, p) can take.
  w_j       `info.priority_units`: the job's priority as an integer.
  a_c       `choice.cost_units`: the price of the whole job at c as an integer.
  q_jcp     `kept_amounts[j, c, p]`: the previous plan's amount (re-matching only).

Eligibility, settled when the instance is compiled (`matching.instance.compile`): an
option or period that breaks a rule gets no variable.
  E1 credit minimum: the factory's credit >= the job's `min_credit`.
  E2 release period, and due date minus shipping lead: production in period t only for
     release_j <= t <= due_j - lead_c.
  E3 capacity in the window: period t only if its bucket has room for one unit (u_c);
     for j in J_w, c only if the window can hold the whole job, sum of floor(K_b / u_c)
     over its periods >= n_c (K_b the bucket's full capacity).

Variables
  x[j,c,p] in 0..r_jcp   amount of job j made at choice c in period position p (`x`).
                         For j in J_w and a choice with a single period where r_jcp > 0,
                         x[j,c,p] is n_c * y[j,c] itself (no variable of its own).
  y[j,c] in {0, 1}       j in J_w goes whole to choice c (`y`).
  k[j,c,p] in 0..q_jcp   amount of the previous plan kept in place (`k`, re-matching).

Constraints
  (1) capacity per resource per period:  sum over (j, c, p) with b(c, p) = b of
      u_c * x[j,c,p] <= R_b, for each bucket b (left out when the variables' upper
      bounds cannot exceed R_b).
  (2) non-splittable jobs whole on one factory, possibly over several periods:
      sum_p x[j,c,p] = n_c * y[j,c] for each c, and sum_c y[j,c] <= 1, for j in J_w.
  (3) a splittable job at most once: sum_{c,p} x[j,c,p] <= S, for j in J_s.
  (4) whole-job cut against the residual capacity: y[j,c] exists only if
      sum_p r_jcp >= n_c (E3 again, the fixed jobs' use taken off).
  (5) kept amounts: k[j,c,p] <= x[j,c,p].

Objective, lexicographic (levels FILL, KEEP, COST of `matching.objective`)
  L1 FILL, maximise the priority-weighted work placed, in 1/S of a job:
       sum_{j in J_s} w_j * sum_{c,p} x[j,c,p]  +  sum_{j in J_w} w_j * S * sum_c y[j,c]
  L2 KEEP, re-matching only: maximise the capacity units of the previous plan kept:
       sum u_c * k[j,c,p]  (for x = n_c * y: u_c * min(q_jcp, n_c) * y[j,c])
  L3 COST, minimise the total cost, in 1/(cost_scale * S) units:
       sum_{j in J_s} sum_{c,p} a_c * x[j,c,p]  +  sum_{j in J_w} sum_c a_c * S * y[j,c]

How the levels are combined (`matching.lexicographic`): by default one CP-SAT solve
per level in turn, each hinted with the best allocation so far; once a level is solved,
its value is fixed as a constraint (L >= value, or <= for cost) for the next levels.
L1 is only fixed, not solved, when the best allocation so far already reaches its upper
bound (every job that has a variable placed whole). LNS moves may instead maximise one
weighted sum (`combined_objective`): each level's coefficients, signed (+ to maximise,
- for cost) and divided by d_l, weighted by W_l = prod over later levels m of
(floor(span_m / d_m) + 1), where span_l = sum of |coefficient| * upper bound over the
level's terms and d_l = max(1, floor(span_l / 10**6)). Only with every d_l = 1 is that
order exact, so the caller keeps a move only if its exact level values are not
lexicographically worse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from matching.instance import Allocation, Choice, Instance, Placement
from matching.objective import COST, FILL, KEEP, MAXIMIZED, KeptAmounts, level_value

COMBINED_LEVEL_SPAN = 10**6  # the largest span of a level in one weighted objective

Term = tuple[cp_model.IntVar, int]  # a variable and its coefficient


@dataclass(slots=True)
class _Amount:
    """How x[j,c,p] reads off the model: `var` * `multiplier` (y and n_c, or x and 1)."""

    choice: int
    position: int
    var: cp_model.IntVar
    multiplier: int


@dataclass(slots=True)
class SubModel:
    """A built model: its variables per job and its terms per objective level."""

    instance: Instance
    jobs: list[int]
    model: cp_model.CpModel
    amounts: dict[int, list[_Amount]]  # x[j,c,p] of each job
    # (y[j,c], c) of the choices spread over periods; the others read through `amounts`.
    whole_choices: dict[int, list[tuple[cp_model.IntVar, int]]]
    terms: dict[str, list[Term]]  # per objective level
    best_possible_fill: int  # L1 with every job that has a variable placed whole
    kept_amounts: KeptAmounts | None

    def objective(self, level: str) -> cp_model.LinearExpr:
        return _weighted(self.terms[level])

    def combined_objective(self, levels: list[str]) -> tuple[cp_model.LinearExpr, bool]:
        """One expression to maximise in which each level outweighs all later ones, and
        whether it is exact. Wide levels (cost) are coarsened to keep CP-SAT's numbers
        small; the caller's exact comparison then decides whether a move is kept."""
        weighted: list[Term] = []
        weight, exact = 1, True
        for level in reversed(levels):
            sign = 1 if MAXIMIZED[level] else -1
            span = sum(abs(coef) * _upper(var) for var, coef in self.terms[level])
            divisor = max(1, span // COMBINED_LEVEL_SPAN)
            exact = exact and divisor == 1
            weighted.extend(
                (var, sign * weight * round(coef / divisor)) for var, coef in self.terms[level]
            )
            weight *= span // divisor + 1
        return _weighted(weighted), exact

    def hint(self, allocation: Allocation) -> None:
        self.model.clear_hints()
        for j in self.jobs:
            current = {(c, p): amount for c, p, amount in allocation[j]}
            chosen = {c for c, _, _ in allocation[j]}
            for entry in self.amounts[j]:
                value = current.get((entry.choice, entry.position), 0) // entry.multiplier
                self.model.add_hint(entry.var, value)
            for y, c in self.whole_choices[j]:
                self.model.add_hint(y, int(c in chosen))

    def read(self, value: Callable[[cp_model.IntVar], int]) -> dict[int, Placement]:
        placements: dict[int, Placement] = {}
        for j in self.jobs:
            parts = []
            for entry in self.amounts[j]:
                amount = value(entry.var) * entry.multiplier
                if amount:
                    parts.append((entry.choice, entry.position, amount))
            placements[j] = tuple(sorted(parts))
        return placements

    def level(self, allocation: Allocation, level: str) -> int:
        """Value of `level` for this model's jobs in `allocation` (in the model's sense)."""
        return level_value(self.instance, allocation, self.jobs, level, self.kept_amounts)


def build_model(
    instance: Instance,
    jobs: Iterable[int],
    residual: list[int],
    factories: set[int] | None = None,
    kept_amounts: KeptAmounts | None = None,
) -> SubModel:
    """The model for `jobs` within `residual` capacity R (capacity units per bucket),
    using only `factories` when given. With `kept_amounts` it has the KEEP level."""
    builder = _Builder(instance, residual, factories, kept_amounts)
    jobs = list(jobs)
    for j in jobs:
        builder.add_job(j)
    builder.add_capacity()
    terms = {FILL: builder.fill_terms, COST: builder.cost_terms}
    if kept_amounts is not None:
        terms[KEEP] = builder.keep_terms
    return SubModel(
        instance,
        jobs,
        builder.model,
        builder.amounts,
        builder.whole_choices,
        terms,
        builder.best_possible_fill,
        kept_amounts,
    )


@dataclass(slots=True)
class _Builder:
    """Adds the variables and constraints of the formulation, job by job."""

    instance: Instance
    residual: list[int]  # R_b
    factories: set[int] | None  # F
    kept_amounts: KeptAmounts | None  # q
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    amounts: dict[int, list[_Amount]] = field(default_factory=dict)
    whole_choices: dict[int, list[tuple[cp_model.IntVar, int]]] = field(default_factory=dict)
    bucket_terms: dict[int, list[Term]] = field(default_factory=dict)  # (1), per bucket
    fill_terms: list[Term] = field(default_factory=list)  # L1
    keep_terms: list[Term] = field(default_factory=list)  # L2
    cost_terms: list[Term] = field(default_factory=list)  # L3
    best_possible_fill: int = 0

    def add_job(self, j: int) -> None:
        info = self.instance.jobs[j]
        self.amounts[j] = []
        self.whole_choices[j] = []
        y_j: list[cp_model.IntVar] = []  # y[j,c] over c
        x_j: list[cp_model.IntVar] = []  # x[j,c,p] over (c, p), splittable jobs
        placeable = False
        for c, choice in enumerate(info.choices):
            if self.factories is not None and choice.factory not in self.factories:
                continue
            room = [min(choice.full, self.residual[b] // choice.usage) for b in choice.buckets]
            if info.splittable:
                placeable = self._add_split_choice(j, c, choice, room, x_j) or placeable
            else:
                placeable = self._add_whole_choice(j, c, choice, room, y_j) or placeable
        if info.splittable and x_j:
            self.model.add(sum(x_j) <= self.instance.split_units)  # (3)
        elif len(y_j) > 1:
            self.model.add_at_most_one(y_j)  # (2), one factory
        if placeable:
            self.best_possible_fill += info.fill_full

    def _add_split_choice(
        self, j: int, c: int, choice: Choice, room: list[int], x_j: list[cp_model.IntVar]
    ) -> bool:
        info = self.instance.jobs[j]
        placeable = False
        for p, r_jcp in enumerate(room):
            if r_jcp <= 0:
                continue
            x = self.model.new_int_var(0, r_jcp, "")
            self.amounts[j].append(_Amount(c, p, x, 1))
            x_j.append(x)
            self.bucket_terms.setdefault(choice.buckets[p], []).append((x, choice.usage))
            self.fill_terms.append((x, info.priority_units))
            self.cost_terms.append((x, choice.cost_units))
            self._add_kept(j, c, p, x, 1, choice.usage)
            placeable = True
        return placeable

    def _add_whole_choice(
        self, j: int, c: int, choice: Choice, room: list[int], y_j: list[cp_model.IntVar]
    ) -> bool:
        if sum(room) < choice.full:  # (4)
            return False
        info = self.instance.jobs[j]
        y = self.model.new_bool_var("")
        y_j.append(y)
        self.fill_terms.append((y, info.fill_full))
        self.cost_terms.append((y, choice.cost_units * self.instance.split_units))
        usable = [p for p, r_jcp in enumerate(room) if r_jcp > 0]
        if len(usable) == 1:  # x[j,c,p] = n_c * y[j,c]
            p = usable[0]
            self.amounts[j].append(_Amount(c, p, y, choice.full))
            self.bucket_terms.setdefault(choice.buckets[p], []).append(
                (y, choice.full * choice.usage)
            )
            self._add_kept(j, c, p, y, choice.full, choice.usage)
            return True
        self.whole_choices[j].append((y, c))
        x_jc = []
        for p in usable:
            x = self.model.new_int_var(0, room[p], "")
            x_jc.append(x)
            self.amounts[j].append(_Amount(c, p, x, 1))
            self.bucket_terms.setdefault(choice.buckets[p], []).append((x, choice.usage))
            self._add_kept(j, c, p, x, 1, choice.usage)
        self.model.add(sum(x_jc) == choice.full * y)  # (2), the whole job
        return True

    def _add_kept(
        self, j: int, c: int, p: int, var: cp_model.IntVar, multiplier: int, usage: int
    ) -> None:
        """The L2 term of x[j,c,p] = `var` * `multiplier`, with k[j,c,p] and (5) if needed."""
        if not self.kept_amounts:
            return
        previous = self.kept_amounts.get((j, c, p), 0)
        if previous <= 0:
            return
        if multiplier > 1:  # x = n_c * y: keeps min(q, n_c) if y is taken
            self.keep_terms.append((var, min(previous, multiplier) * usage))
            return
        k = self.model.new_int_var(0, previous, "")
        self.model.add(k <= var)  # (5)
        self.keep_terms.append((k, usage))

    def add_capacity(self) -> None:
        for b, terms in self.bucket_terms.items():
            if sum(coef * _upper(var) for var, coef in terms) > self.residual[b]:
                self.model.add(_weighted(terms) <= self.residual[b])  # (1)


def _upper(var: cp_model.IntVar) -> int:
    domain = var.proto.domain
    return domain[len(domain) - 1]


def _weighted(terms: list[Term]) -> cp_model.LinearExpr:
    return cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [c for _, c in terms])
