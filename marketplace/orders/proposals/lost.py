"""Lost work: the order lines a factory could have made and did not get, and why.

When a run's plan has become proposals, every factory that was an option of one of the
run's order lines (through any of its capacity lines) and holds no pending or accepted
proposal on that line has lost it; a row per (line, factory) records the run, and the
latest run placing a line replaces what earlier runs recorded for it.

Why a factory lost is the engine's own explanation (`matching.explain`) of that run's
stored problem and plan, worked out the first time the row is shown and then kept on
it. Explaining a job against a whole problem compiles the whole problem, seconds for a
run of thousands of jobs, so the job is explained against the part of the problem its
answer depends on: the job with the options of this factory and of the factories that
got it, those factories' capacity, and the hours the rest of the plan uses there (added
up per factory, week and resource). A factory is told only about itself: the binding
reason per capacity line, its own credit, shipping time and free hours, and, when it was
too expensive, by how much; never who got the work or at what price.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

import matching
from factories.credit.score import RISK_WEIGHT
from factories.errors import N_, Message
from factories.models import Factory, among, id_of, table_of
from factories.paging import Page, check_paging, offset
from marketplace.accounts.service import Principal
from marketplace.bulk import insert_without_ids
from marketplace.orders import access
from marketplace.orders.models import (
    LostWork,
    Order,
    OrderLine,
    Proposal,
    ProposalState,
)
from marketplace.orders.proposals.engine import Unexplainable, run_explainer
from marketplace.orders.runs.problem import job_id, line_id_of, parse_capacity_line
from matching.reasons import (
    CREDIT_BELOW_MINIMUM,
    MORE_EXPENSIVE,
    NO_CAPACITY,
    NO_FREE_CAPACITY,
    NOT_HELD,
    NOT_NEEDED,
    NOT_USED,
    SHIPPING_TOO_SLOW,
    UNEXPLAINED,
)

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100


# --- recording, when a run's plan has been applied ---


def record_lost_work(
    session: Session, run_id: int, problem: dict[str, Any], line_ids: Iterable[int], now: datetime
) -> int:
    """Record which factories lost the run's jobs among `line_ids` (lines whose plan was
    applied); returns how many rows were written."""
    wanted = set(line_ids)
    options: dict[int, set[int]] = {}
    for job in problem.get("jobs", []):
        line_id = line_id_of(job["id"])
        if line_id in wanted:
            options[line_id] = {parse_capacity_line(o["factory"])[0] for o in job["options"]}
    if not options:
        return 0
    lines = sorted(options)
    working = set(
        session.exec(
            select(Proposal.order_line_id, Proposal.factory_id).where(
                among(col(Proposal.order_line_id), lines),
                col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
            )
        ).all()
    )
    session.execute(
        sa.delete(LostWork)
        .where(among(col(LostWork.order_line_id), lines))
        .execution_options(synchronize_session=False)
    )
    rows = [
        {"factory_id": f, "order_line_id": line, "match_run_id": run_id, "created_at": now}
        for line in lines
        for f in sorted(options[line])
        if (line, f) not in working
    ]
    insert_without_ids(session, table_of(LostWork), rows)
    return len(rows)


# --- reading ---


@dataclass(frozen=True)
class LostItem:
    """One lost order line, as its factory may see it."""

    id: int
    factory: Factory
    line: OrderLine
    order: Order
    match_run_id: int
    lost_at: datetime
    reasons: list[dict[str, Any]]

    @property
    def reason(self) -> dict[str, Any]:
        """The binding reason: that of the capacity line that came closest."""
        return self.reasons[0] if self.reasons else {"reason": UNEXPLAINED}


def lost_work_of(
    session: Session, principal: Principal, page: int = 1, per_page: int = 20
) -> Page[LostItem]:
    """The order lines the principal's factories lost, latest first, a page at a time."""
    mine = access.visible_lost_work(principal)
    check_paging(page, per_page, MAX_PER_PAGE).raise_if_any()
    total = session.exec(select(sa.func.count()).select_from(mine.subquery())).one()
    if offset(page, per_page) >= total:
        return Page([], total, page, per_page)
    rows = session.exec(
        mine.order_by(col(LostWork.id).desc())
        .offset(offset(page, per_page))
        .limit(per_page)
        .execution_options(populate_existing=True)
    ).all()
    return Page(_items(session, list(rows)), total, page, per_page)


def lost_work_for(session: Session, principal: Principal, lost_work_id: int) -> LostItem:
    """One lost line of the principal's factories (anyone else: NotFound)."""
    return _items(session, [access.lost_work_for(session, principal, lost_work_id)])[0]


def _items(session: Session, rows: list[LostWork]) -> list[LostItem]:
    if not rows:
        return []
    lines = _by_id(session, OrderLine, {r.order_line_id for r in rows})
    orders = _by_id(session, Order, {line.order_id for line in lines.values()})
    factories = _by_id(session, Factory, {r.factory_id for r in rows})
    reasons = explain_rows(session, rows)
    return [
        LostItem(
            id=id_of(r),
            factory=factories[r.factory_id],
            line=lines[r.order_line_id],
            order=orders[lines[r.order_line_id].order_id],
            match_run_id=r.match_run_id,
            lost_at=r.created_at,
            reasons=reasons[id_of(r)],
        )
        for r in rows
    ]


def explain_rows(session: Session, rows: Sequence[LostWork]) -> dict[int, list[dict[str, Any]]]:
    """Each row's reasons: kept ones as they are, the others worked out (one load of each
    run's problem and plan) and kept on the row for the next reader."""
    result: dict[int, list[dict[str, Any]]] = {}
    by_run: dict[int, list[LostWork]] = defaultdict(list)
    for row in rows:
        if row.reasons is not None:
            result[id_of(row)] = list(row.reasons)
        else:
            by_run[row.match_run_id].append(row)
    for run_id, group in sorted(by_run.items()):
        explainer = run_explainer(session, run_id)
        for row in sorted(group, key=id_of):
            try:
                reasons = explainer.reasons(job_id(row.order_line_id), row.factory_id)
            except (Unexplainable, matching.ProblemError, KeyError, ValueError) as error:
                log.warning("lost work %s of run %s: no explanation (%s)", row.id, run_id, error)
                reasons = [{"reason": UNEXPLAINED}]
            result[id_of(row)] = reasons
            _keep(session, id_of(row), reasons)
    return result


def _keep(session: Session, row_id: int, reasons: list[dict[str, Any]]) -> None:
    """Store the reasons unless the row is locked (a run is replacing it right now):
    a reader never waits on, or deadlocks with, a run being applied."""
    free = select(LostWork.id).where(LostWork.id == row_id).with_for_update(skip_locked=True)
    session.execute(
        sa.update(LostWork)
        .where(col(LostWork.id).in_(free.scalar_subquery()))
        .values(reasons=reasons)
        .execution_options(synchronize_session=False)
    )


def _by_id(session: Session, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(model).where(model.id.in_(sorted(ids))))}


# --- words ---


def reason_message(reason: dict[str, Any], currency: str) -> Message:
    """The binding reason in one sentence (English; pages say it with `say`)."""
    kind = reason.get("reason")
    if kind == CREDIT_BELOW_MINIMUM:
        return N_(
            "Your credit score %(credit)s is below the buyer's minimum of %(minimum)s.",
            credit=f"{reason.get('credit', 0):g}",
            minimum=f"{reason.get('min_credit', 0):g}",
        )
    if kind == SHIPPING_TOO_SLOW:
        return N_(
            "Shipping to the delivery place takes %(weeks)s week(s), too long to deliver "
            "by the due week %(due)s.",
            weeks=reason.get("lead_weeks", 0),
            due=reason.get("due_week", ""),
        )
    if kind in (NO_CAPACITY, NO_FREE_CAPACITY):
        return _capacity_message(reason)
    if kind == MORE_EXPENSIVE:
        return _price_message(reason)
    if kind == NOT_NEEDED:
        return N_("The work was already fully placed with other factories.")
    if kind == NOT_USED:
        return N_(
            "You had room and your price was no higher, but the plan, which is not proven "
            "optimal, did not use you."
        )
    if kind == NOT_HELD:
        return N_(
            "The plan gave you this work, but your hours were booked by other work before "
            "they could be held for you."
        )
    if kind == UNEXPLAINED:
        return N_("No explanation is available for this matching run.")
    return N_("The engine's reason: %(code)s.", code=str(kind))


def _price_message(reason: dict[str, Any]) -> Message:
    """Where the factory's price stood, in rank and band: never a figure from which the
    price of the factory that got the work follows."""
    band = reason.get("price_band")
    rank, count = reason.get("price_rank"), reason.get("price_of")
    if band is None or rank is None:
        return N_("Your price was higher than that of the factory that got the work.")
    placed = N_("Your price ranked %(rank)s of %(count)s.", rank=rank, count=count)
    if band == "within_10_percent":
        how = N_("It was within a tenth of the price that got the work.")
    elif band == "10_to_30_percent":
        how = N_("It was a tenth to three tenths above the price that got the work.")
    else:
        how = N_("It was more than three tenths above the price that got the work.")
    adjusted = N_(
        "Prices are compared after adjusting for credit: price × (1 + %(weight)s × (1 − credit)).",
        weight=RISK_WEIGHT,
    )
    return N_("%(placed)s %(how)s %(adjusted)s", placed=placed, how=how, adjusted=adjusted)


def _capacity_message(reason: dict[str, Any]) -> Message:
    window = reason.get("window") or []
    first, last = (window[0], window[-1]) if window else ("", "")
    free = f"{reason.get('free_hours', 0):g}"
    needed = f"{reason.get('needed_hours', 0):g}"
    if reason["reason"] == NO_CAPACITY:
        if not window:
            return N_("No week was left to make the work in.")
        if reason.get("free_hours", 0) <= 0:
            return N_(
                "You had no free hours of this process from %(first)s to %(last)s, the "
                "weeks in which the work had to be made.",
                first=first,
                last=last,
            )
        return N_(
            "You had %(free)s free hours of this process from %(first)s to %(last)s; the "
            "work needs %(needed)s hours at one factory.",
            free=free,
            first=first,
            last=last,
            needed=needed,
        )
    if reason.get("free_hours", 0) <= 0:
        return N_(
            "Other work in the same run took all your free hours from %(first)s to %(last)s.",
            first=first,
            last=last,
        )
    return N_(
        "Other work in the same run left you %(free)s free hours from %(first)s to "
        "%(last)s; the work needs %(needed)s hours at one factory.",
        free=free,
        first=first,
        last=last,
        needed=needed,
    )
