"""Tocsin's services and the libraries they share (event log, runtime, text analysis).

Services never import each other: they talk through events on the log.
"""
