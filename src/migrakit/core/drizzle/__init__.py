"""Drizzle's formats and rules: the journal, folder layouts and names, and the 0.x to 1.0 tracking upgrade. Pure."""
