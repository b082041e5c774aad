"""FactoryWeb: the web application (`marketplace.app.create_app`), its API and its command line."""
