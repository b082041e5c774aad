"""Steps the role journeys share: forms filled the way a person fills them, waiting for
the background work a page started, the parties a journey does not play itself (the
other factories accept and ship), and the journey's pages read again in Chinese."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlmodel import col, select

from factories.models import Capability, CapabilityMaterial, Factory, FactoryStatus
from factories.taxonomy import PROCESSES, specializations_of
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.db import Database
from marketplace.orders.models import MilestoneKind, Order, OrderState, Proposal, ProposalState
from marketplace.orders.production.documents import Upload
from marketplace.orders.production.service import add_milestone
from marketplace.orders.proposals import service as proposals
from tests.browser.pages import english_words, set_language, shot, typed_texts
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


@dataclass(frozen=True)
class World:
    """The live server of a journey module and what its tests reach behind it."""

    url: str
    database: Database
    inbox: Inbox
    uploads: Path


def read_in_chinese(
    page: Page, world: World, area: str, paths: dict[str, str], readme: str = ""
) -> None:
    """The journey's main pages again, in Chinese: screenshots, and no English word.
    `readme` names the page whose picture the README shows."""
    with world.database.session() as session:
        typed = typed_texts(session)
    set_language(page, world.url, "zh")
    found = {}
    for name, path in paths.items():
        response = page.goto(world.url + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        page.wait_for_load_state("networkidle")
        if page.locator(".chart").count():
            expect(page.locator(".chart svg.main-svg").first).to_be_visible(timeout=30_000)
        picture = f"{area}-{name}-zh"
        shot(page, "journeys", picture, readme=picture if name == readme else None)
        if words := english_words(page, typed):
            found[path] = sorted(words)
    set_language(page, world.url, "en")
    assert found == {}, f"English left on Chinese pages: {found}"


def page_material(world: World, factory_id: int) -> str:
    with world.database.session() as session:
        factory = session.get(Factory, factory_id)
        assert factory is not None and factory.status == FactoryStatus.VERIFIED
        return session.exec(
            select(CapabilityMaterial.material)
            .join(Capability, col(Capability.id) == col(CapabilityMaterial.capability_id))
            .where(Capability.factory_id == factory_id)
        ).first()


def wait_for_state(page: Page, state: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while f"state-{state}" not in (page.locator("#order-state").get_attribute("class") or ""):
        assert time.monotonic() < deadline, f"the order never became {state}"
        page.wait_for_timeout(500)
        page.reload()


def ship(world: World, order_id: int) -> None:
    """Every factory of the order reports start, QA and shipping (their journey's end)."""
    with world.database.session() as session:
        factory_ids = sorted(
            set(
                session.exec(
                    select(Proposal.factory_id).where(
                        Proposal.order_id == order_id, Proposal.state == ProposalState.ACCEPTED
                    )
                ).all()
            )
        )
        for kind in (MilestoneKind.STARTED, MilestoneKind.QA_PASSED, MilestoneKind.SHIPPED):
            for factory_id in factory_ids:
                factory = session.get(Factory, factory_id)
                owner = Principal(
                    organization_id=factory.organization_id,
                    organization_kind=OrganizationKind.FACTORY,
                    role=Role.FACTORY_OWNER,
                )
                shipped = kind == MilestoneKind.SHIPPED
                add_milestone(
                    session,
                    owner,
                    order_id,
                    kind,
                    upload_folder=world.uploads,
                    factory_id=factory_id,
                    carrier="DHL" if shipped else "",
                    tracking_number="JD0146000012345" if shipped else "",
                    uploads=[Upload("qa-report.txt", b"all dimensions in tolerance\n")]
                    if kind == MilestoneKind.QA_PASSED
                    else [],
                )
        session.commit()
    assert order_state(world.database, order_id) == OrderState.SHIPPED
