"""migrakit: PostgreSQL migrations that read and write drizzle-kit folders and keep Drizzle's tracking table true."""

__version__ = "0.1.0"
