"""The credit page of a factory (the score, each component and the orders behind it) and
the download of its signed report."""

from __future__ import annotations

import json

from flask import Response, render_template
from flask.typing import ResponseReturnValue

from factories.credit import report as reports
from factories.credit.score import PRIOR_MEAN
from factories.credit.service import standing_of
from factories.models import id_of, utcnow
from marketplace import db
from marketplace.accounts.access import login_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.credit import access, presenters, texts
from marketplace.credit.blueprints import pages
from marketplace.credit.keys import signing_key


@pages.get("/factories/<int:factory_id>/credit")
@login_required
@shared_across_organizations(Role.OPERATOR, Role.BUYER_MEMBER)
def credit_page(factory_id: int) -> ResponseReturnValue:
    view = access.credit_view(factory_id)
    standing = standing_of(db.session(), id_of(view.factory), utcnow())
    return render_template(
        "credit/credit.html",
        factory=view.factory,
        full=view.full,
        credit=presenters.breakdown(standing, full=view.full),
        prior=PRIOR_MEAN,
        labels=texts.COMPONENT_LABELS,
        good=texts.GOOD,
        bad=texts.BAD,
    )


@pages.get("/factories/<int:factory_id>/credit/report.json")
@login_required
@shared_across_organizations(Role.OPERATOR)
def credit_report_download(factory_id: int) -> ResponseReturnValue:
    factory = access.report_view(factory_id)
    document = reports.sign(reports.build(db.session(), factory, utcnow()), signing_key())
    body = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="credit-report-{id_of(factory)}.json"'
        },
    )
