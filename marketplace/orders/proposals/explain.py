"""Why the engine placed work where it did, told to each party as it may hear it.

* When a plan becomes proposals, each proposal keeps two accounts: the marketplace's
  (`explanation`: how many factories were eligible, where this one ranked on price, its
  credit, distance and shipping time) and the engine's own (`matching.explain` of the
  job: why each option was chosen or not).
* A factory reads the engine's account of its own capacity lines only: never another
  factory's name, price or hours (`explanation_for`).
* A job is explained against its own part of the problem
  (`marketplace.orders.proposals.engine.RunExplainer`), in milliseconds a job.
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

from factories.credit.score import RISK_WEIGHT
from marketplace.accounts.service import Principal
from marketplace.orders.models import Order, Proposal
from marketplace.orders.proposals.engine import RunExplainer, run_explainer
from marketplace.orders.runs.problem import BuiltProblem, job_id, parse_capacity_line

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
# Runs up to this many jobs explain every job while their plan is applied.
EAGER_ENGINE_JOBS = 2000
# Marks a proposal whose engine account is to be worked out when it is first shown.
ENGINE_LATER = "engine_later"


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
        explainer = run_explainer(session, run_id)
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
