"""Why a run left work of an order line unplaced, counted in factories.

The line's way to the engine is a funnel of filters, the same as eligibility's
(`marketplace.orders.runs.problem`): verified factories offering the process, in the
material, quoting in the order's currency, able to make the part (envelope, tolerance,
batch size), holding the certifications on the due date, not having refused the line,
within the budget, with the minimum credit. Each filter is recorded with how many
factories it removed and how many were left; then, of the factories that came through,
the engine's reason each one did not take the rest of the work (full in the weeks the
work could be made, too far to ship by the due date, its hours taken by other work).

Codes and counts only: the pages put them in words (`marketplace.orders.proposals.words`),
in the reader's language. No factory is named, so a buyer learns nothing of a factory
but how many there were.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from factories.certifications import valid_certificate_types
from factories.fit import BATCH, ENVELOPE, TOLERANCE, Need, misfits, price_minor
from factories.models import Capability, Factory, FactoryStatus, id_of
from factories.taxonomy import specializations_of
from marketplace.orders.coverage import Coverage
from marketplace.orders.models import Order, OrderLine, Proposal
from marketplace.orders.proposals.engine import CLOSENESS, RunExplainer
from marketplace.orders.runs.problem import (
    REFUSALS,
    BuiltProblem,
    EligibilityCache,
    job_id,
    parse_capacity_line,
)
from matching.reasons import CHOSEN

# The funnel's filters, in the order eligibility applies them.
PROCESS = "process"
MATERIAL = "material"
CURRENCY = "currency"
FIT = "fit"
CERTIFICATIONS = "certifications"
REFUSED = "refused"
BUDGET = "budget"
CREDIT = "credit"
DUE_DATE_PASSED = "due_date_passed"

HOURS_TOLERANCE = 1e-6


def unplaced_lines(
    session: Session,
    built: BuiltProblem,
    plan: Mapping[str, Any] | None,
    lines: Mapping[int, OrderLine],
    orders: Mapping[int, Order],
    coverage: Mapping[int, Coverage],
) -> list[dict[str, Any]]:
    """For each line of `lines` with hours left unplaced, why: the funnel and the
    engine's reasons (plain data, stored with the run's outcome)."""
    explainer = RunExplainer(built.problem, dict(plan) if plan else None)
    lookups = FunnelLookups()
    found = []
    for line_id, line in sorted(lines.items()):
        covered = coverage.get(line_id)
        if covered is None or covered.unplaced <= HOURS_TOLERANCE:
            continue
        order = orders.get(line.order_id)
        if order is None:
            continue
        entry: dict[str, Any] = {
            "line": line_id,
            "order": line.order_id,
            "line_no": line.line_no,
            "process": line.process_code,
            "material": line.material,
            "hours": float(line.hours),
            "unplaced_hours": float(covered.unplaced),
        }
        if line_id in built.skipped:
            entry["funnel"] = [{"filter": DUE_DATE_PASSED, "removed": 0, "left": 0}]
            entry["engine"] = []
        else:
            job = built.job(job_id(line_id))
            remaining = Decimal(str(job.get("hours", covered.unplaced)))
            entry["funnel"], qualified = funnel(session, line, order, remaining, lookups)
            entry["engine"] = engine_reasons(explainer, job, qualified)
        found.append(entry)
    return found


class FunnelLookups:
    """What the funnels of one run's lines share: the verified factories, those offering
    each process, the capabilities per process and material (a national run can leave
    a thousand lines short)."""

    def __init__(self) -> None:
        self.verified: set[int] | None = None
        self.offering: dict[str, set[int]] = {}
        self.eligibility = EligibilityCache()

    def verified_factories(self, session: Session) -> set[int]:
        if self.verified is None:
            self.verified = {
                f
                for f in session.exec(
                    select(Factory.id).where(Factory.status == FactoryStatus.VERIFIED)
                ).all()
                if f is not None
            }
        return self.verified

    def offering_process(self, session: Session, process: str) -> set[int]:
        if process not in self.offering:
            self.offering[process] = set(
                session.exec(
                    select(Capability.factory_id)
                    .join(Factory, col(Factory.id) == col(Capability.factory_id))
                    .where(
                        col(Capability.process_code).in_(sorted(specializations_of(process))),
                        Factory.status == FactoryStatus.VERIFIED,
                    )
                    .distinct()
                ).all()
            )
        return self.offering[process]


def funnel(
    session: Session,
    line: OrderLine,
    order: Order,
    remaining: Decimal,
    lookups: FunnelLookups | None = None,
) -> tuple[list[dict[str, Any]], set[int]]:
    """Each filter with the number of factories it removed and left, and the ids of the
    factories that came through all of them."""
    steps: list[dict[str, Any]] = []

    def step(name: str, before: set[int], after: set[int], **details: Any) -> set[int]:
        steps.append(
            {"filter": name, "removed": len(before - after), "left": len(after), **details}
        )
        return after

    lookups = lookups or FunnelLookups()
    verified = lookups.verified_factories(session)
    offering = lookups.offering_process(session, line.process_code)
    left = step(PROCESS, verified, offering)
    rows = lookups.eligibility.table(session, line.process_code, line.material).rows
    left = step(MATERIAL, left, {r.factory_id for r in rows})
    rows = [r for r in rows if r.currency == order.currency]
    left = step(CURRENCY, left, {r.factory_id for r in rows}, currency=order.currency)

    need = Need(
        part_mm=(line.length_mm, line.width_mm, line.height_mm),
        tolerance_class=line.tolerance_class,
        quantity=line.quantity,
    )
    failed: dict[str, set[int]] = defaultdict(set)
    fitting = []
    for row in rows:
        problems = misfits(row, need)
        for problem in problems:
            failed[problem].add(row.factory_id)
        if not problems:
            fitting.append(row)
    after_fit = {r.factory_id for r in fitting}
    left = step(
        FIT,
        left,
        after_fit,
        # A factory counts once per check it fails with every one of its capabilities.
        **{kind: len(failed[kind] - after_fit) for kind in (ENVELOPE, TOLERANCE, BATCH)},
    )
    rows = fitting

    needed = set(line.certifications_required)
    if needed:
        certified = valid_certificate_types(session, left, order.due_date)
        rows = [r for r in rows if needed <= certified.get(r.factory_id, set())]
    left = step(CERTIFICATIONS, left, {r.factory_id for r in rows}, required=sorted(needed))

    refused = set(
        session.exec(
            select(Proposal.factory_id).where(
                Proposal.order_line_id == id_of(line), col(Proposal.state).in_(REFUSALS)
            )
        ).all()
    )
    rows = [r for r in rows if r.factory_id not in refused]
    left = step(REFUSED, left, {r.factory_id for r in rows})

    if order.budget_minor is not None:
        budget = order.budget_minor
        rows = [r for r in rows if price_minor(remaining, r.hourly_rate_minor) <= budget]
    left = step(BUDGET, left, {r.factory_id for r in rows}, budget_minor=order.budget_minor)

    rows = [r for r in rows if r.credit >= order.min_credit]
    left = step(CREDIT, left, {r.factory_id for r in rows}, min_credit=order.min_credit)
    return steps, left


def engine_reasons(
    explainer: RunExplainer, job: Mapping[str, Any], qualified: set[int]
) -> list[dict[str, Any]]:
    """Of the qualified factories, how many did not take (the rest of) the work for each
    of the engine's reasons, each factory by its capacity line that came closest; the
    weeks the work could be made in."""
    if not job or not qualified:
        return []
    try:
        account = explainer.explain(str(job["id"]))
    except Exception:  # the stored problem cannot say: the funnel still does
        return []
    closest: dict[int, str] = {}
    for entry in [*account.get("chosen", []), *account.get("not_chosen", [])]:
        factory_id = parse_capacity_line(entry["factory"])[0]
        if factory_id not in qualified:
            continue
        reason = entry.get("reason", "")
        kept = closest.get(factory_id)
        if kept is None or _rank(reason) < _rank(kept):
            closest[factory_id] = reason
    counts: dict[str, int] = defaultdict(int)
    for reason in closest.values():
        counts[reason] += 1
    periods = explainer.periods
    return [
        {
            "reason": reason,
            "factories": counts[reason],
            "of": len(qualified),
            "weeks": [
                job.get("release_period") or periods[0],
                job.get("due_period") or periods[-1],
            ],
        }
        for reason in sorted(counts, key=_rank)
    ]


def _rank(reason: str) -> int:
    if reason == CHOSEN:
        return -1
    return CLOSENESS.index(reason) if reason in CLOSENESS else len(CLOSENESS)
