"""Matching on the web: starting a run from the order page, its live progress (htmx),
the run's page, and its problem and plan as files to replay."""

from __future__ import annotations

import json

from flask import Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound as NotFoundPage

from factories.errors import NotFound
from factories.models import id_of
from marketplace import db
from marketplace.accounts.access import login_required, require_principal
from marketplace.orders import access
from marketplace.orders.blueprints import pages
from marketplace.orders.models import MatchRunState
from marketplace.orders.runs.forms import MatchForm
from marketplace.orders.runs.service import latest_run, orders_of_run, request_matching
from marketplace.orders.runs.texts import unplaced_lines
from marketplace.orders.settings import current_settings
from marketplace.web.forms import require_valid, step_then_redirect


@pages.post("/orders/<int:order_id>/match")
@login_required
def match(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    form = MatchForm()
    require_valid(form)
    limit = float(form.time_limit_s.data or current_settings()["MATCH_TIME_LIMIT_S"])
    return step_then_redirect(
        lambda: request_matching(session, principal, order_id, limit),
        _("Matching started."),
        url_for("orders.detail", order_id=order_id),
    )


@pages.get("/orders/<int:order_id>/progress")
@login_required
def progress(order_id: int) -> ResponseReturnValue:
    """The live progress panel (htmx polls it every second while a run is in flight)."""
    session, principal = db.session(), require_principal()
    order = access.order_for(session, principal, order_id)
    if not access.sees_whole_order(principal, order):
        raise NotFound(f"order {order_id}")
    run = latest_run(session, id_of(order))
    unplaced = unplaced_lines(run.outcome, [order]) if run is not None else []
    response = Response(
        render_template("orders/_progress.html", order=order, run=run, unplaced=unplaced)
    )
    finished = run is not None and run.state in (MatchRunState.SUCCEEDED, MatchRunState.FAILED)
    if finished and request.args.get("was") in (MatchRunState.QUEUED, MatchRunState.RUNNING):
        # The run just finished: reload the page so that the proposals appear.
        response.headers["HX-Refresh"] = "true"
    return response


@pages.get("/runs/<int:run_id>")
@login_required
def run_detail(run_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    run = access.run_for(session, principal, run_id)
    unplaced = unplaced_lines(run.outcome, orders_of_run(session, run_id))
    return render_template("orders/run.html", run=run, unplaced=unplaced)


@pages.get("/runs/<int:run_id>/<any(problem, plan, previous_plan):part>.json")
@login_required
def run_download(run_id: int, part: str) -> ResponseReturnValue:
    """The run's problem or plan as a file, to replay with `factoryweb match`."""
    session, principal = db.session(), require_principal()
    run = access.run_for(session, principal, run_id)
    content = getattr(run, part)
    if not content:
        raise NotFoundPage()
    response = Response(json.dumps(content, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="run-{run.id}-{part}.json"'
    return response
