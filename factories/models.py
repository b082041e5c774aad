"""Supply-side tables: factories, their certifications, capabilities and capacity.

Field names follow the factory profile (docs/factory-profile.md): Catena-X and
IDTA names where a standard has one, ours elsewhere. The organization a factory
belongs to lives on the marketplace side; it is referenced by table name only so that
this package stays independent of the web application.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, defer
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel

from factories.capacity.hours import free_hours
from factories.errors import N_, Message

# Deterministic constraint names, so that migrations can refer to them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


ROW = TypeVar("ROW", bound=SQLModel)


class Stored(Protocol):
    """A row whose integer primary key the database assigns when it is flushed."""

    @property
    def id(self) -> int | None: ...


def id_of(row: Stored) -> int:
    """The primary key of `row`, which has been loaded or flushed. A table's `id` is None
    only on a row not yet sent to the database; handing such an id on is a mistake."""
    if row.id is None:
        raise ValueError(f"this {type(row).__name__} has no id yet: it was never flushed")
    return row.id


def id_column(model: type[SQLModel]) -> QueryableAttribute[int]:
    """`model.id` for selecting ids: typed `int | None` on the model, for a row not yet
    flushed, but never NULL in the table."""
    attribute: QueryableAttribute[int] = sa.inspect(model).attrs["id"].class_attribute
    return attribute


def deferred(model: type[SQLModel], name: str) -> Any:
    """A loader option leaving the column `name` unloaded unless read: a large document
    (a compressed problem) the query has no use for."""
    return defer(sa.inspect(model).attrs[name].class_attribute)


class _Among(ColumnElement[bool]):
    """`column IN ids` for any number of ids (see `among`)."""

    inherit_cache = False
    type = sa.Boolean()

    def __init__(self, column: Any, ids: list[int]) -> None:
        self.column = column
        self.ids = ids


@compiles(_Among)
def _among_as_in(element: _Among, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.ids), **kw)


@compiles(_Among, "postgresql")
def _among_as_any(element: _Among, compiler: Any, **kw: Any) -> str:
    ids = sa.bindparam(None, element.ids, type_=ARRAY(sa.BigInteger))
    return compiler.process(element.column == sa.any_(ids), **kw)


def among(column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN ids` however many ids there are: on PostgreSQL one array parameter
    (`= ANY(...)`), since a national run names more orders, lines or proposals than the
    65,535 parameters a statement may have; elsewhere a plain IN."""
    return _Among(column, list(ids))


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model, for statements that bypass the ORM (SQLModel
    leaves `__table__` undeclared)."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def text_limit(model: type[SQLModel], name: str) -> int:
    """The most characters the text column `name` of `model` holds (its `max_length`),
    so that services, forms and documents check the length the table stores."""
    length = getattr(sa.inspect(model).columns[name].type, "length", None)
    if length is None:
        raise ValueError(f"{model.__name__}.{name} has no length limit")
    return int(length)


def too_long(value: str, model: type[SQLModel], name: str) -> Message | None:
    """Why `value` does not fit the text column `name` of `model` (None: it fits)."""
    maximum = text_limit(model, name)
    if len(value) > maximum:
        return N_("must be at most %(maximum)s characters", maximum=maximum)
    return None


def get_by_id(session: Session, model: type[ROW], ident: int) -> ROW | None:
    """`session.get`, except that an id beyond the range of the primary key's column
    (integer, or bigint) finds nothing: PostgreSQL would refuse to compare it."""
    (column,) = sa.inspect(model).primary_key
    bits = 64 if isinstance(column.type, sa.BigInteger) else 32
    if not -(2 ** (bits - 1)) <= ident < 2 ** (bits - 1):
        return None
    return session.get(model, ident)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonDocument = sa.JSON().with_variant(JSONB(), "postgresql")


class CompressedJson(TypeDecorator):
    """A JSON document stored zlib-compressed: for documents only ever read whole (a
    matching run's problem), a tenth of the size of JSONB. Encoded and compressed in
    chunks, so no second copy of a large document is held as one string."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        return None if value is None else compress_json(value)

    def process_result_value(self, value: bytes | None, dialect: sa.Dialect) -> Any:
        return None if value is None else decompress_json(value)


def compress_json(value: Any) -> bytes:
    compressor = zlib.compressobj(6)
    chunks = []
    pending: list[str] = []
    size = 0
    for piece in _encoded(value):
        pending.append(piece)
        size += len(piece)
        if size >= 1 << 16:
            chunks.append(compressor.compress("".join(pending).encode()))
            pending, size = [], 0
    chunks.append(compressor.compress("".join(pending).encode()))
    chunks.append(compressor.flush())
    return b"".join(chunks)


def decompress_json(value: bytes) -> Any:
    return json.loads(zlib.decompress(value))


_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# How deep `_encoded` walks a document before handing a whole value to the C encoder
# (`iterencode` would run the pure-Python one over all of it, ten times slower).
_STREAMED_LEVELS = 3


def _encoded(value: Any, levels: int = _STREAMED_LEVELS) -> Iterator[str]:
    """`_COMPACT.encode(value)` in pieces: the first levels of dicts and lists walked
    here, each value below encoded whole by the C encoder (a national problem's job is
    a piece; the problem never becomes one string)."""
    if levels and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + _COMPACT.encode(key) + ":"
            yield from _encoded(item, levels - 1)
        yield "}"
    elif levels and isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _encoded(item, levels - 1)
        yield "]"
    else:
        yield _COMPACT.encode(value)


Hours = sa.Numeric(10, 2)


def timestamp_field(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False, **kwargs)


def new_factory_global_id() -> str:
    return f"urn:factoryweb:factory:{uuid.uuid4()}"


class FactoryStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    SUSPENDED = "suspended"


class Factory(SQLModel, table=True):
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'verified', 'suspended')", name="status"),
        sa.CheckConstraint("credit_score >= 0 AND credit_score <= 1", name="credit_score_range"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    global_id: str = Field(default_factory=new_factory_global_id, max_length=80, unique=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    country: str = Field(max_length=2, description="ISO 3166-1 alpha-2")
    region: str = Field(max_length=80, index=True)
    city: str = Field(default="", max_length=120)
    latitude: float
    longitude: float
    status: str = Field(default=FactoryStatus.PENDING, max_length=16, index=True)
    # Cached score from the ledger; eligibility filters on it in SQL.
    credit_score: float = Field(default=0.7)
    capacity_updated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    verified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Why an operator suspended the factory; shown to its owner.
    status_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    created_at: datetime = timestamp_field()


class Certification(SQLModel, table=True):
    __table_args__ = (
        sa.CheckConstraint("valid_until >= valid_from", name="validity_order"),
        # Buyer search: factories holding a certificate type that is still valid.
        sa.Index("ix_search_certification_type", "certificate_type", "valid_until", "factory_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    factory_id: int = Field(foreign_key="factory.id", index=True, ondelete="CASCADE")
    certificate_type: str = Field(max_length=32, description="taxonomy.CERTIFICATIONS code")
    certificate_version: str = Field(default="", max_length=32)
    registration_number: str = Field(max_length=80)
    issuer: str = Field(max_length=200)
    valid_from: date
    valid_until: date


class Capability(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("factory_id", "process_code"),
        sa.CheckConstraint("batch_min >= 1 AND batch_max >= batch_min", name="batch_range"),
        sa.CheckConstraint("hourly_rate_minor >= 0", name="hourly_rate_nonnegative"),
        sa.CheckConstraint(
            "max_length_mm > 0 AND max_width_mm > 0 AND max_height_mm > 0", name="envelope_positive"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    factory_id: int = Field(foreign_key="factory.id", index=True, ondelete="CASCADE")
    process_code: str = Field(max_length=40, index=True)
    tolerance_class: str = Field(max_length=16, description="ISO 2768 general tolerance")
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int = Field(default=1)
    batch_max: int = Field(default=1_000_000)
    hourly_rate_minor: int = Field(description="price per hour in minor units of currency")
    currency: str = Field(default="EUR", max_length=3)
    updated_at: datetime = timestamp_field()


class CapabilityMaterial(SQLModel, table=True):
    __tablename__ = "capability_material"
    capability_id: int = Field(foreign_key="capability.id", primary_key=True, ondelete="CASCADE")
    material: str = Field(max_length=40, primary_key=True, index=True)


class CapacityBucket(SQLModel, table=True):
    """Hours of one resource (process) of one factory in one ISO week."""

    __tablename__ = "capacity_bucket"
    __table_args__ = (
        sa.UniqueConstraint("factory_id", "resource", "point_in_time"),
        sa.CheckConstraint("booked_hours >= 0", name="booked_nonnegative"),
        sa.CheckConstraint("booked_hours <= maximum_hours", name="not_overbooked"),
        sa.CheckConstraint(
            "actual_hours >= 0 AND actual_hours <= maximum_hours", name="actual_range"
        ),
        sa.CheckConstraint("held_hours >= 0 AND held_hours <= booked_hours", name="held_range"),
        sa.Index("ix_capacity_bucket_resource_week", "resource", "point_in_time"),
        # Buyer search sums free hours per capability and week window from the index alone.
        sa.Index(
            "ix_search_capacity_bucket_free",
            "factory_id",
            "resource",
            "point_in_time",
            postgresql_include=["maximum_hours", "booked_hours"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    factory_id: int = Field(foreign_key="factory.id", ondelete="CASCADE")
    resource: str = Field(max_length=40, description="process code")
    point_in_time: date = Field(description="Monday of the ISO week")
    actual_hours: Decimal = Field(sa_type=Hours, description="planned hours (DCM actualCapacity)")
    maximum_hours: Decimal = Field(sa_type=Hours, description="DCM maximumCapacity")
    booked_hours: Decimal = Field(default=Decimal(0), sa_type=Hours)
    # The part of booked_hours held by proposals not yet accepted (factories/capacity/booking.py).
    held_hours: Decimal = Field(
        default=Decimal(0), sa_type=Hours, sa_column_kwargs={"server_default": "0"}
    )
    updated_at: datetime = timestamp_field()

    @property
    def free_hours(self) -> Decimal:
        return free_hours(self.maximum_hours, self.booked_hours)


class LedgerEvent(SQLModel, table=True):
    """One business event in the append-only, hash-chained ledger (factories/ledger.py;
    docs/credit.md). `prev_hash` is unique: the chain cannot fork."""

    __tablename__ = "ledger_event"
    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = timestamp_field()
    kind: str = Field(max_length=40, index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    factory_id: int | None = Field(default=None, foreign_key="factory.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id", index=True)
    payload: dict = Field(default_factory=dict, sa_type=JsonDocument)
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)
