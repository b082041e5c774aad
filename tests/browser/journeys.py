"""Steps the role journeys share: forms filled the way a person fills them (by label or
by the field's name where the label is in the other language), waiting for the
background work a page started, and the parties the journeys do not play themselves."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlmodel import col, select

from factories.models import Capability, Factory
from factories.taxonomy import PROCESSES, specializations_of
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.orders.models import Order, Proposal, ProposalState
from marketplace.orders.proposals import service as proposals
from tests.mail import Inbox

STUTTGART = (48.7758, 9.1829)


def choose(page: Page, name: str, value: str) -> None:
    """A field that is a list to pick from, or a box to type in."""
    field = page.locator(f"[name='{name}']").first
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def fill_present(page: Page, values: dict[str, str]) -> None:
    """Fill the fields the form has among `values` (the delivery place may be picked
    by city instead of coordinates)."""
    for name, value in values.items():
        field = page.locator(f"[name='{name}']")
        if field.count() and field.first.is_visible():
            choose(page, name, value)


def confirmation_link(inbox: Inbox, address: str, path: str, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    with inbox.received:
        while not inbox.to(address):
            left = deadline - time.monotonic()
            assert left > 0, f"no mail to {address}"
            inbox.received.wait(left)
    return inbox.link(inbox.to(address)[-1], path)


def process_nobody_offers(session) -> str:
    """A process of the taxonomy no factory of the seeded market can do: the new
    factory's only competitor for it is nobody."""
    offered = set(session.exec(select(Capability.process_code)).all())
    for process in PROCESSES:
        if not specializations_of(process) & offered:
            return process
    raise AssertionError("the seeded market offers every process")


@dataclass(frozen=True)
class OrderLineText:
    process: str
    material: str
    quantity: int
    hours: int
    splittable: bool = False


def post_order(
    page: Page, live_server: str, title: str, lines: list[OrderLineText], weeks: int = 6
) -> int:
    """The buyer fills the order form, line by line, and posts it; the order's id."""
    page.goto(live_server + "/orders/new")
    due = date.today() + timedelta(weeks=weeks)
    page.locator("[name=title]").fill(title)
    page.locator("[name=due_date]").fill(due.isoformat())
    choose(page, "delivery_country", "DE")
    fill_present(
        page,
        {
            "delivery_city": "Stuttgart",
            "delivery_latitude": str(STUTTGART[0]),
            "delivery_longitude": str(STUTTGART[1]),
        },
    )
    for index, line in enumerate(lines):
        if index > 0:
            page.locator("[name=add_line]").click()
            expect(page.locator(f"[name='lines-{index}-process_code']")).to_be_attached()
        prefix = f"lines-{index}-"
        page.locator(f"[name='{prefix}process_code']").select_option(line.process)
        page.locator(f"[name='{prefix}material']").select_option(line.material)
        page.locator(f"[name='{prefix}quantity']").fill(str(line.quantity))
        page.locator(f"[name='{prefix}hours']").fill(str(line.hours))
        for name, size in (("length_mm", 180), ("width_mm", 120), ("height_mm", 60)):
            page.locator(f"[name='{prefix}{name}']").fill(str(size))
        if line.splittable:
            page.locator(f"[name='{prefix}splittable']").check()
    page.locator("[name=post]").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def match(page: Page) -> None:
    """Ask for matching on the order page and wait for the run to end."""
    page.locator("form[action$='/match'] button[type=submit]").click()
    expect(page.locator("#run-state")).to_have_class(
        re.compile(r"state-(succeeded|failed)"), timeout=90_000
    )
    expect(page.locator("#run-state")).to_have_class(re.compile("state-succeeded"))


def accept_for_the_factories(database, order_id: int, skip: set[int] = frozenset()) -> list[int]:
    """The factories the journey does not play accept their proposals (their owners do,
    from their own sessions, as the factory journey shows)."""
    accepted = []
    with database.session() as session:
        pending = session.exec(
            select(Proposal)
            .where(Proposal.order_id == order_id, Proposal.state == ProposalState.PENDING)
            .order_by(col(Proposal.id))
        ).all()
        for proposal in pending:
            if proposal.factory_id in skip:
                continue
            factory = session.get(Factory, proposal.factory_id)
            owner = Principal(
                organization_id=factory.organization_id,
                organization_kind=OrganizationKind.FACTORY,
                role=Role.FACTORY_OWNER,
            )
            proposals.accept(session, owner, proposal.id)
            accepted.append(proposal.id)
        session.commit()
    return accepted


def order_state(database, order_id: int) -> str:
    with database.session() as session:
        return session.get(Order, order_id).state
