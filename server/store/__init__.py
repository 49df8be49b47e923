"""The store: models, engines, migrations and the queries the server runs."""
