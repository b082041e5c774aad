"""The operator area's one table: computed network reports (docs/operator.md).

Working out the network's risk runs the eligibility of every open order line and a
re-match for the recovery property: seconds on a cluster of hundreds of factories. The
report is computed outside the page (housekeeping, `factoryweb network report`, the
page's "compute now") and kept, so the page reads one row.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from factories.models import JsonDocument, timestamp_field


class NetworkReport(SQLModel, table=True):
    __tablename__ = "network_report"

    id: int | None = Field(default=None, primary_key=True)
    computed_at: datetime = timestamp_field(index=True)
    seconds: float = Field(default=0.0, description="how long computing it took")
    # The report of marketplace.operator.network.reports.report, with the drawing.
    report: dict = Field(default_factory=dict, sa_type=JsonDocument)
