"""Connecting: the server behind a URL, sessions, the embedded server, pooler detection, writability."""
