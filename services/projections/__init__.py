"""Projections: every topic of the log folded into a SQLite read model for the API.

``ReadModel`` (store.py) is the database and its writes; ``fold.py`` says what each event
type changes; ``ProjectionLoop`` (loop.py) keeps the model up to date as a consumer group;
``rebuild`` (rebuild.py) makes it again from the log; ``queries.py`` reads it.
"""
