CREATE INDEX CONCURRENTLY IF NOT EXISTS "t_id_idx" ON "t" ("id");
--> statement-breakpoint
/* leading /* nested */ comment */ -- and a line comment
create unique index concurrently t_u ON t (id);
--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS t_u;
--> statement-breakpoint
REINDEX INDEX CONCURRENTLY t_id_idx;
--> statement-breakpoint
REINDEX SCHEMA public;
--> statement-breakpoint
VACUUM ANALYZE t;
--> statement-breakpoint
ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;
--> statement-breakpoint
CREATE INDEX t_plain ON t (id);
