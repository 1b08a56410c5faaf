"""Inspecting a database without migrating it: schema diff, lint probe, shadow databases, a targets query."""
