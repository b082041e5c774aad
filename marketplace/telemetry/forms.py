"""The form that registers a machine."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField


class MachineForm(FlaskForm):
    machine_id = StringField(_l("Machine id"))
    process_code = SelectField(_l("Process"))
    nominal_hours = StringField(_l("Nominal hours per week"), default="40")
    opcua_endpoint = StringField(_l("OPC UA endpoint (optional)"))
    opcua_state_node = StringField(_l("Node id of its MachineryItemState"))
    opcua_hours_node = StringField(_l("Node id of its available hours this week (optional)"))
