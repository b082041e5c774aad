"""The `factoryweb` command: Flask's commands plus the marketplace's own."""

from __future__ import annotations

import sys

from flask.cli import FlaskGroup

from marketplace.app import create_app
from marketplace.commands import register_commands

main = FlaskGroup(
    name="factoryweb",
    create_app=create_app,
    help="FactoryWeb: manufacturing capacity marketplace.",
    add_version_option=False,
    set_debug_flag=False,
)
register_commands(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
