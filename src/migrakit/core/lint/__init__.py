"""db.lint's rules: one module per rule family, each holding its rules (id, severity, what goes wrong, the safe
way: `rule.Rule`) and their check, a pure function of the statement and what was measured (`rule.Seen`).
`engine.py` runs every family on every statement, tells a statement's own failure from one caused by an earlier
failure, scales severity by the target's size and applies suppressions (`suppress.py`). Pure.

Adding a rule: a `Rule` and its check in the family's module (or a new module listed in `engine.FAMILIES`),
its cases in tests/lint_cases/<module>/ (a migration on the seeded tables, the rules expected and what
PostgreSQL measured), and its row in docs/MIGRATION_GUIDE.md's "Safe migrations".
"""
