"""Persistent storage of results: the SQLite gradebook."""
