"""Why the engine placed work where it did, told to each party as it may hear it.

* When a plan becomes proposals, each proposal keeps two accounts: the marketplace's
  (`explanation`: how many factories were eligible, where this one ranked on price, its
  credit, distance and shipping time) and the engine's own (`matching.explain` of the
  job: why each option was chosen or not).
* A factory reads the engine's account of its own capacity lines only: never another
  factory's name, price or hours (`explanation_for`).
* A job is explained against its own part of the problem (`RunExplainer`): its options,
  their capacity and the hours the rest of the plan uses there, which costs milliseconds
  a job however large the run, where explaining against the whole problem compiles all
  of it again for every job.
* Milliseconds a job are minutes for a national run: a run of more than
  EAGER_ENGINE_JOBS jobs applies its plan without the engine's accounts, and each is
  worked out the first time its proposal is shown (`explain_proposals`) and kept, as
  lost work is.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

import matching
from factories.credit.score import RISK_WEIGHT
from marketplace.accounts.service import Principal
from marketplace.orders.models import MatchRun, Order, Proposal
from marketplace.orders.runs.problem import BuiltProblem, job_id, parse_capacity_line
from matching.reasons import (
    CREDIT_BELOW_MINIMUM,
    MORE_EXPENSIVE,
    NO_CAPACITY,
    NO_FREE_CAPACITY,
    NOT_HELD,
    NOT_NEEDED,
    NOT_USED,
    SHIPPING_TOO_SLOW,
)

log = logging.getLogger(__name__)

# What a factory sees of the engine's account of a job: its own capacity lines only, and
# of those only what is about itself (never a reference to, or the price of, another).
ENGINE_CHOSEN_FIELDS = (
    "factory",
    "reason",
    "hours",
    "share",
    "cost",
    "option_cost",
    "price",
    "option_price",
    "lead_periods",
    "credit",
    "detail",
)
ENGINE_OTHER_FIELDS = ("factory", "reason", "option_cost", "lead_periods", "credit", "free_hours")
HOURS_TOLERANCE = 1e-6
# Runs up to this many jobs explain every job while their plan is applied.
EAGER_ENGINE_JOBS = 2000
# Marks a proposal whose engine account is to be worked out when it is first shown.
ENGINE_LATER = "engine_later"

CLOSENESS = (
    NOT_HELD,
    MORE_EXPENSIVE,
    NOT_NEEDED,
    NOT_USED,
    NO_FREE_CAPACITY,
    NO_CAPACITY,
    SHIPPING_TOO_SLOW,
    CREDIT_BELOW_MINIMUM,
)


class Unexplainable(ValueError):
    """The stored problem or plan does not hold this job or this factory's options."""


class RunExplainer:
    """Explains the jobs of one run, each against its own part of the problem: to the
    buyer, to the factories that got the work and to those that lost it."""

    def __init__(self, problem: dict[str, Any], plan: dict[str, Any] | None) -> None:
        self.problem = problem or {}
        self.plan = plan
        self.periods: list[str] = list(self.problem.get("periods") or ["P1"])
        self.jobs = {j["id"]: j for j in self.problem.get("jobs", [])}
        self.factories = {f["id"]: f for f in self.problem.get("factories", [])}
        # Hours the plan uses per (capacity line, period, resource), and each job's share.
        self.used: dict[str, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
        self.own: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in (plan or {}).get("assignments", []):
            job = self.jobs.get(a["job"])
            if job is None:
                continue
            self.used[a["factory"]][(a["period"], job["resource"])] += a["hours"]
            self.own[a["job"]].append(a)

    def reasons(self, job: str, factory_id: int) -> list[dict[str, Any]]:
        """The binding reason for each of the factory's capacity lines that were options
        of the job, closest to winning first."""
        if self.plan is None or job not in self.jobs:
            raise Unexplainable(job)
        data = self.jobs[job]
        mine = {o["factory"] for o in data["options"] if _factory_of(o["factory"]) == factory_id}
        if not mine:
            raise Unexplainable(f"{job}: factory {factory_id}")
        explanation = self.explain(job, mine)
        found = []
        for entry in explanation["chosen"]:
            if entry["factory"] in mine:
                found.append(self._reason(data, entry, NOT_HELD))
        for entry in explanation["not_chosen"]:
            if entry["factory"] in mine:
                found.append(self._reason(data, entry, entry["reason"]))
        return sorted(found, key=_closeness)

    def explain(self, job: str, lines: set[str] | None = None) -> dict[str, Any]:
        """`matching.explain` of the job, for its options among `lines` (capacity lines;
        all of its options when None) and those that got it: what the whole problem
        would say of them, at the cost of the job's own part of it."""
        if self.plan is None or job not in self.jobs:
            raise Unexplainable(job)
        if lines is None:
            lines = {o["factory"] for o in self.jobs[job]["options"]}
        return matching.explain(*self._part_for(job, lines), job)

    def _part_for(self, job: str, mine: set[str]) -> tuple[matching.Problem, matching.Plan]:
        """The job with the options among `mine` and the winners', against the capacity
        of those lines less the hours the rest of the plan uses there."""
        data = self.jobs[job]
        own = self.own.get(job, [])
        keep = mine | {a["factory"] for a in own}
        if not keep <= set(self.factories):
            raise Unexplainable(job)
        own_hours: dict[tuple[str, str], float] = defaultdict(float)
        for a in own:
            own_hours[(a["factory"], a["period"])] += a["hours"]
        assignments = list(own)
        others: dict[str, dict[str, Any]] = {}
        for line in sorted(keep):
            for (period, resource), hours in sorted(self.used.get(line, {}).items()):
                if resource == data["resource"]:
                    hours -= own_hours.get((line, period), 0.0)
                if hours <= HOURS_TOLERANCE:
                    continue
                stand_in = f"other work/{resource}"
                others.setdefault(stand_in, {"id": stand_in, "resource": resource, "hours": 1})
                assignments.append(
                    {"job": stand_in, "factory": line, "period": period, "hours": hours}
                )
        problem = {
            "version": 1,
            "periods": self.periods,
            "factories": [self.factories[line] for line in sorted(keep)],
            "jobs": [
                {**data, "options": [o for o in data["options"] if o["factory"] in keep]},
                *others.values(),
            ],
        }
        plan = {
            "status": self.plan["status"] if self.plan else "UNKNOWN",
            "objective": 0.0,
            "bound": None,
            "assignments": assignments,
            "unassigned": [u for u in (self.plan or {}).get("unassigned", []) if u["job"] == job],
            "solve_s": 0.0,
        }
        return matching.load_problem(problem), matching.load_plan(plan)

    def _reason(self, job: dict[str, Any], entry: dict[str, Any], reason: str) -> dict[str, Any]:
        option = next(o for o in job["options"] if o["factory"] == entry["factory"])
        result: dict[str, Any] = {
            "resource": parse_capacity_line(entry["factory"])[1],
            "reason": reason,
        }
        needed = option.get("hours") or job["hours"]
        first, last = self._window(job, option.get("lead_periods", 0))
        if reason == CREDIT_BELOW_MINIMUM:
            result.update(credit=entry["credit"], min_credit=job.get("min_credit", 0.0))
        elif reason == SHIPPING_TOO_SLOW:
            result.update(
                lead_weeks=option.get("lead_periods", 0),
                due_week=job.get("due_period") or self.periods[-1],
            )
        elif reason in (NO_CAPACITY, NO_FREE_CAPACITY):
            if reason == NO_CAPACITY:
                free = self._capacity(entry["factory"], job["resource"], first, last)
            else:
                free = entry.get("free_hours", 0.0)
            result.update(
                free_hours=_hours(free),
                needed_hours=_hours(needed),
                splittable=bool(job.get("splittable", False)),
                window=[self.periods[first], self.periods[last]] if first <= last else [],
            )
        elif reason == MORE_EXPENSIVE:
            # Where it stood, never by how much: its own price less the difference would
            # be the price of the factory that got the work.
            rank, count = _price_rank(job, _factory_of(entry["factory"]))
            result.update(
                price_rank=rank,
                price_of=count,
                price_band=price_band(option["cost"], entry.get("extra_cost", 0.0)),
            )
        elif reason == NOT_HELD:
            result.update(hours=_hours(entry["hours"]))
        return result

    def _window(self, job: dict[str, Any], lead: int) -> tuple[int, int]:
        index = {p: t for t, p in enumerate(self.periods)}
        first = index.get(job.get("release_period") or self.periods[0], 0)
        due = index.get(job.get("due_period") or self.periods[-1], len(self.periods) - 1)
        return first, due - lead

    def _capacity(self, line: str, resource: str, first: int, last: int) -> float:
        weeks = set(self.periods[max(first, 0) : last + 1])
        return sum(
            c["hours"]
            for c in self.factories[line].get("capacity", [])
            if c["resource"] == resource and c["period"] in weeks
        )


def _factory_of(problem_factory: str) -> int | None:
    try:
        return parse_capacity_line(problem_factory)[0]
    except ValueError:
        return None


def _hours(value: float) -> float:
    return round(max(0.0, value), 2)


def _closeness(reason: dict[str, Any]) -> tuple[int, float]:
    rank = CLOSENESS.index(reason["reason"]) if reason["reason"] in CLOSENESS else len(CLOSENESS)
    return rank, reason.get("price_rank", 0)


# How much dearer than the work's price a losing price was: no figure, a band.
PRICE_BANDS = ((0.10, "within_10_percent"), (0.30, "10_to_30_percent"))
ABOVE_30_PERCENT = "over_30_percent"


def price_band(own_cost: float, extra_cost: float) -> str:
    chosen = max(own_cost - extra_cost, 1.0)
    share = extra_cost / chosen
    return next((band for limit, band in PRICE_BANDS if share <= limit), ABOVE_30_PERCENT)


def _price_rank(job: dict[str, Any], factory_id: int | None) -> tuple[int, int]:
    """The factory's place among the job's factories by price (1: the cheapest), and how
    many there were; each factory by its cheapest capacity line."""
    cheapest: dict[int | None, float] = {}
    for option in job["options"]:
        owner = _factory_of(option["factory"])
        cheapest[owner] = min(option["cost"], cheapest.get(owner, option["cost"]))
    mine = cheapest.get(factory_id, 0.0)
    return 1 + sum(1 for cost in cheapest.values() if cost < mine), len(cheapest)


def explanation(
    built: BuiltProblem,
    job: str,
    factory_id: int,
    weeks: list[str],
    order: Order,
) -> dict[str, Any]:
    """Why this factory got this work, in terms that reveal nothing about other factories'
    prices: how many factories were eligible and where this one ranked on price."""
    candidates = built.candidates.get(job, {})
    mine = [c for c in candidates.values() if c.factory_id == factory_id]
    cheapest_per_factory: dict[int, int] = {}
    for c in candidates.values():
        rate = cheapest_per_factory.get(c.factory_id)
        cheapest_per_factory[c.factory_id] = (
            c.hourly_rate_minor if rate is None else min(rate, c.hourly_rate_minor)
        )
    my_rate = min((c.hourly_rate_minor for c in mine), default=0)
    rank = 1 + sum(1 for r in cheapest_per_factory.values() if r < my_rate)
    job_data = built.job(job)
    first = mine[0] if mine else None
    return {
        "job": job,
        "resources": sorted({c.resource for c in mine}),
        "weeks": sorted(set(weeks)),
        "hourly_rate_minor": my_rate,
        "eligible_factories": len(cheapest_per_factory),
        "price_rank": rank,
        "credit": first.credit if first else None,
        "min_credit": order.min_credit,
        "distance_km": first.distance_km if first else None,
        "lead_weeks": first.lead_periods if first else None,
        "due_week": job_data.get("due_period"),
        "splittable": job_data.get("splittable", False),
        "checks": ["capability", "material", "envelope", "tolerance", "certifications", "credit"],
        # Offers were compared at price x (1 + risk_weight x (1 - credit)); the price of
        # the proposal is the real one (docs/matching-problem.md).
        "risk_weight": RISK_WEIGHT,
    }


def add_engine_explanations(
    built: BuiltProblem, plan: dict[str, Any], created: list[Proposal]
) -> None:
    """Add the engine's own account of each job to the run's new proposals.

    Each job is explained against its own part of the problem (its options, their
    capacity, the hours the rest of the plan uses there): a few milliseconds a job
    whatever the size of the run, where explaining against the whole problem compiles
    all of it again for every job."""
    if not created:
        return
    if len(built.problem.get("jobs", [])) > EAGER_ENGINE_JOBS:
        for proposal in created:
            proposal.explanation = {**proposal.explanation, ENGINE_LATER: True}
        return
    explainer = RunExplainer(built.problem, plan)
    cache: dict[str, dict[str, Any] | None] = {}
    for proposal in created:
        job = job_id(proposal.order_line_id)
        if job not in cache:
            try:
                cache[job] = with_prices(explainer.explain(job), built.job(job))
            except Exception:  # an engine that cannot explain its plan should not stop it
                log.exception("run %s: no engine explanation of %s", proposal.match_run_id, job)
                cache[job] = None
        if cache[job] is not None:
            proposal.explanation = {**proposal.explanation, "engine": cache[job]}


def explain_proposals(session: Session, proposals: Iterable[Proposal]) -> None:
    """The engine's account of proposals whose run left it for later (`ENGINE_LATER`),
    worked out (one load of each run's problem and plan) and kept on each proposal."""
    later: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in proposals:
        if (proposal.explanation or {}).get(ENGINE_LATER) and proposal.match_run_id:
            later[proposal.match_run_id].append(proposal)
    for run_id, group in sorted(later.items()):
        stored = session.exec(
            select(MatchRun.problem, MatchRun.plan).where(MatchRun.id == run_id)
        ).first()
        explainer = RunExplainer(*(stored or ({}, None)))
        for proposal in group:
            job = job_id(proposal.order_line_id)
            explanation = {
                k: v for k, v in (proposal.explanation or {}).items() if k != ENGINE_LATER
            }
            try:
                explanation["engine"] = with_prices(
                    explainer.explain(job), explainer.jobs.get(job, {})
                )
            except Exception:  # as when the plan was applied: a page without it, not a 500
                log.exception("run %s: no engine explanation of %s", run_id, job)
            _keep(session, proposal, explanation)


def _keep(session: Session, proposal: Proposal, explanation: dict[str, Any]) -> None:
    """Store the account unless the proposal is locked (being accepted right now): a
    reader never waits on a decision; the next reader works it out again."""
    free = select(Proposal.id).where(Proposal.id == proposal.id).with_for_update(skip_locked=True)
    session.execute(
        sa.update(Proposal)
        .where(col(Proposal.id).in_(free.scalar_subquery()))
        .values(explanation=explanation)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(proposal, "explanation", explanation)


def with_prices(engine: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """The engine's account with the real prices beside its costs: the engine compares
    risk-adjusted costs (docs/matching-problem.md), the buyer pays `price`."""
    prices = {o["factory"]: o.get("price", o["cost"]) for o in job.get("options", [])}
    chosen = []
    for entry in engine.get("chosen", []):
        option_price = prices.get(entry.get("factory"))
        if option_price is not None:
            entry = {
                **entry,
                "option_price": option_price,
                "price": option_price * float(entry.get("share", 0)),
            }
        chosen.append(entry)
    return {**engine, "chosen": chosen}


def explanation_for(principal: Principal, proposal: Proposal) -> dict[str, Any]:
    """The proposal's explanation as the principal may see it (`proposal_for` decided
    that it may see the proposal): all of it for the buyer and operators; for the
    factory, the engine's account restricted to its own capacity lines."""
    explanation = dict(proposal.explanation or {})
    engine = explanation.get("engine")
    if principal.is_factory and engine is not None:
        explanation["engine"] = engine_for_factory(engine, proposal.factory_id)
    return explanation


def engine_for_factory(engine: dict[str, Any], factory_id: int) -> dict[str, Any]:
    """The engine's account of a job as one factory may see it: why its own capacity
    lines were chosen (hours, share, its cost, shipping time, credit) or not (the reason
    alone), and nothing of any other factory: competitors share the platform."""

    def own(entry: dict[str, Any]) -> bool:
        try:
            return parse_capacity_line(str(entry.get("factory", "")))[0] == factory_id
        except ValueError:
            return False

    return {
        "job": engine.get("job"),
        "hours": engine.get("hours"),
        "chosen": [
            {k: e[k] for k in ENGINE_CHOSEN_FIELDS if k in e}
            for e in engine.get("chosen", [])
            if own(e)
        ],
        "not_chosen": [
            {k: e[k] for k in ENGINE_OTHER_FIELDS if k in e}
            for e in engine.get("not_chosen", [])
            if own(e)
        ],
    }
