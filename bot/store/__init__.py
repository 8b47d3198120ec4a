"""The event log: an append-only table in any SQLAlchemy database."""
