"""Server-rendered pages: layout, landing page, language switch."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect

from marketplace.web import labels

LOCALES = {"en": "English", "zh": "简体中文"}
csrf = CSRFProtect()
LOCALE_COOKIE = "lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


def select_locale() -> str:
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(list(LOCALES), default="en")


def init_web(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale)
    csrf.init_app(app)

    from marketplace.accounts import init_accounts
    from marketplace.accounts.access import current_principal, current_user
    from marketplace.orders import init_orders
    from marketplace.supply.views import blueprint as supply_blueprint
    from marketplace.web.views import blueprint as web_blueprint

    app.register_blueprint(web_blueprint)
    app.register_blueprint(supply_blueprint)
    init_orders(app)
    init_accounts(app, csrf)

    @app.context_processor
    def layout_context() -> dict[str, object]:
        current = str(get_locale())
        return {
            "locales": LOCALES,
            "current_locale": current,
            "principal": current_principal(),
            "user": current_user(),
            # Taxonomy codes in the reader's language, on any page.
            "process_label": lambda code: labels.process_label(code, current),
            "material_label": lambda code: labels.material_label(code, current),
            "certification_label": lambda code: labels.certification_label(code, current),
        }
