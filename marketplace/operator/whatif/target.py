"""What an outage takes offline: which factories (one, or a region's) and which weeks.
Every bad input is an OperatorError naming its field (`factory`, `region`, `from_week`,
`to_week`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from factories.capacity.calendar import CALENDAR_WEEKS, HORIZON_WEEKS
from factories.capacity.weeks import monday_of, parse_week, week_count, week_label
from factories.errors import N_
from factories.models import Factory, FactoryStatus, get_by_id, id_of
from marketplace.operator.errors import OperatorError


@dataclass(frozen=True)
class Outage:
    """Factories offline from the week of `first` to the week of `last` (Mondays)."""

    factory_ids: tuple[int, ...]
    names: dict[int, str]
    label: str  # the factory's name or the region, as the operator chose it
    first: date
    last: date

    @property
    def weeks(self) -> list[date]:
        return [self.first + timedelta(weeks=i) for i in range(week_count(self.first, self.last))]

    @property
    def periods(self) -> set[str]:
        return {week_label(w) for w in self.weeks}


def find_factory(session: Session, reference: str) -> Factory | None:
    """A factory by its id or its URN (`urn:factoryweb:factory:...`)."""
    text = reference.strip()
    if text.isdigit():
        return get_by_id(session, Factory, int(text))
    if not text:
        return None
    return session.exec(select(Factory).where(Factory.global_id == text)).first()


def regions(session: Session) -> list[str]:
    """Regions with verified factories, for the form's choices."""
    return list(
        session.exec(
            select(Factory.region)
            .where(Factory.status == FactoryStatus.VERIFIED)
            .distinct()
            .order_by(col(Factory.region))
        ).all()
    )


def outage_of(
    session: Session,
    today: date,
    *,
    factory: str | None = None,
    region: str | None = None,
    from_week: str | None = None,
    to_week: str | None = None,
) -> Outage:
    """The outage the operator describes; the weeks default to the calendar's 12 from
    this one. Weeks must run forwards, from this week on, within the planning horizon."""
    problems: list[tuple[str, str]] = []
    factories: list[Factory] = []
    label = ""
    if bool(factory and factory.strip()) == bool(region and region.strip()):
        problems.append(("factory", N_("choose either a factory or a region")))
    elif factory and factory.strip():
        found = find_factory(session, factory)
        if found is None:
            problems.append(("factory", N_("no factory %(reference)s", reference=factory.strip())))
        else:
            factories, label = [found], found.name
    elif region:
        factories = list(
            session.exec(
                select(Factory)
                .where(Factory.region == region.strip(), Factory.status != FactoryStatus.SUSPENDED)
                .order_by(col(Factory.id))
            ).all()
        )
        label = region.strip()
        if not factories:
            problems.append(("region", N_("no factory in the region %(region)s", region=label)))
    this_week = monday_of(today)
    first = _week(from_week, this_week, "from_week", problems)
    last = _week(to_week, this_week + timedelta(weeks=CALENDAR_WEEKS - 1), "to_week", problems)
    horizon_end = this_week + timedelta(weeks=HORIZON_WEEKS - 1)
    if first is not None and first < this_week:
        problems.append(
            ("from_week", N_("must be this week (%(week)s) or later", week=week_label(this_week)))
        )
    for name, week in (("from_week", first), ("to_week", last)):
        if week is not None and week > horizon_end:
            problems.append(
                (
                    name,
                    N_(
                        "is beyond the calendar, which ends with %(week)s",
                        week=week_label(horizon_end),
                    ),
                )
            )
    if first is not None and last is not None and last < first:
        problems.append(("to_week", N_("must not come before the first week")))
    if problems:
        raise OperatorError.of(problems)
    assert first is not None and last is not None
    return Outage(
        factory_ids=tuple(id_of(f) for f in factories),
        names={id_of(f): f.name for f in factories},
        label=label,
        first=first,
        last=last,
    )


def _week(
    value: str | None, default: date, field: str, problems: list[tuple[str, str]]
) -> date | None:
    if value is None or not str(value).strip():
        return default
    try:
        return parse_week(str(value))
    except (ValueError, OverflowError):
        problems.append(
            (field, N_("not an ISO week like 2026-W48: %(text)s", text=str(value).strip()))
        )
        return None
