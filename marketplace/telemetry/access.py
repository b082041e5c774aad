"""Which machine a request may touch: one of the factory already loaded with
`marketplace.supply.access.load_factory` (which decided who may see it); else 404."""

from __future__ import annotations

from flask import abort

from factories.models import Factory, get_by_id
from factories.telemetry.models import Machine
from marketplace import db


def load_machine(factory: Factory, machine_pk: int) -> Machine:
    machine = get_by_id(db.session(), Machine, machine_pk)
    if machine is None or machine.factory_id != factory.id:
        abort(404)
    return machine
