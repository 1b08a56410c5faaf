"""PostgreSQL's own rules reproduced: splitting text into statements, setting values and names. Pure."""
