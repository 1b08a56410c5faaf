"""Running migrations: executor, pipeline, guards, lock, probe, large statements, progress, error translation."""
