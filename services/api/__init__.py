"""The API and dashboard: ``create_app`` (app.py) over the read model the projections keep,
served with the projections by the ``api`` service (runner.py)."""
