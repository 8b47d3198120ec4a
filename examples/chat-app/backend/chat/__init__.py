"""Chat API: a small WSGI service that stores messages in PostgreSQL."""
