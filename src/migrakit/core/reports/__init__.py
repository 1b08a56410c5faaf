"""What each command returns, as data for render/ (pure), one module per family of commands: run (status, migrate,
bootstrap), check (named checks, env.check, db.check), write (generate, count-branch-migrations, consolidate,
baseline), lint, upgrade (Drizzle 1.0's layout and tracking table), embedded (the embedded server), retire, fleet."""
