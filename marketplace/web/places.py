"""Picking a place by city or on a map: the answers the city picker's script asks for
(`static/places.js`), and the check every form with a place makes on the server.

A city is chosen by name (the picker fills the country, latitude and longitude from the
city), or by a click on the map (the nearest city within 100 km, or the clicked point
alone). Typed by hand, a city must exist in the chosen country: a name that is nobody's
city gets a message under the city field, never a silent (0, 0).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms import Field

from factories.places import City, find, nearest, occupied_cells, search
from marketplace.web.labels import countries, country_label, current_locale

blueprint = Blueprint("places", __name__)
KNOWN_COUNTRIES = frozenset(code for code, _name in countries("en"))
MAP_DEGREES = 1.0


def city_label(city: City, locale: str) -> str:
    """ "Shenzhen, China"; in Chinese "深圳 (Shenzhen), 中国" (the Chinese name where the
    data has one)."""
    country = country_label(city.country, locale)
    if locale.startswith("zh") and city.name_zh:
        return f"{city.name_zh} ({city.name}), {country}"
    return f"{city.name}, {country}"


def city_answer(city: City, locale: str) -> dict[str, Any]:
    return {
        "name": city.name,
        "label": city_label(city, locale),
        "country": city.country,
        "country_name": country_label(city.country, locale),
        "latitude": round(city.latitude, 5),
        "longitude": round(city.longitude, 5),
    }


def _number(name: str) -> float | None:
    try:
        return float(request.args.get(name, ""))
    except ValueError:
        return None


@blueprint.get("/places/cities")
def cities() -> ResponseReturnValue:
    """Cities whose name starts with `q`, most populous first (at most `limit`, 10)."""
    text = (request.args.get("q") or "")[:100]
    limit = request.args.get("limit", default=10, type=int) or 10
    locale = current_locale()
    found = search(text, request.args.get("country") or "", limit)
    return jsonify([city_answer(c, locale) for c in found])


@blueprint.get("/places/nearest")
def nearest_city() -> ResponseReturnValue:
    """The city nearest to (`latitude`, `longitude`) within 100 km, or null."""
    latitude, longitude = _number("latitude"), _number("longitude")
    problems = []
    if latitude is None or not -90 <= latitude <= 90:
        problems.append({"field": "latitude", "message": _("must be between -90 and 90")})
    if longitude is None or not -180 <= longitude <= 180:
        problems.append({"field": "longitude", "message": _("must be between -180 and 180")})
    if problems or latitude is None or longitude is None:
        message = _("The point is not on the map.")
        return jsonify({"error": "invalid_input", "message": message, "fields": problems}), 422
    city = nearest(latitude, longitude)
    return jsonify(city_answer(city, current_locale()) if city else None)


@blueprint.get("/places/map.json")
def world_map() -> ResponseReturnValue:
    """The cells of a 1° grid that hold a city: the map's dots."""
    response = jsonify({"degrees": MAP_DEGREES, "cells": occupied_cells(MAP_DEGREES)})
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def locate(
    city: Field, country: Field, latitude: Field, longitude: Field
) -> list[tuple[Field, str]]:
    """The place of a form, completed and checked before the form is validated: a city
    given must exist (in the country, when one is chosen) and fills the country and
    coordinates left empty; without a city, the latitude and longitude are needed. The
    problems, to put under their fields once the form is validated (`show_problems`)."""
    name = (city.data or "").strip()
    if not name:
        return [
            (field, _("Choose a city, click on the map, or give the latitude and longitude."))
            for field in (latitude, longitude)
            if field.data is None and not (field.raw_data and field.raw_data[0].strip())
        ]
    # A country not on the list gets its own message; the city is then looked up anywhere.
    chosen = country.data if country.data in KNOWN_COUNTRIES else ""
    found = find(name, chosen)
    if found is None:
        where = country_label(chosen, current_locale()) if chosen else ""
        message = (
            _("No city of this name in %(country)s: choose one from the list.", country=where)
            if where
            else _("No city of this name: choose one from the list.")
        )
        return [(city, message)]
    city.data = name.split(",")[0].strip()
    if not country.data:
        country.data = found.country
    for field, value in ((latitude, found.latitude), (longitude, found.longitude)):
        if field.data is None and not (field.raw_data and field.raw_data[0].strip()):
            field.data = value
    return []


def show_problems(problems: list[tuple[Field, str]]) -> None:
    """Each problem under its field, unless the field already has a message of its own."""
    for field, message in problems:
        if not field.errors:
            field.errors = [message]
