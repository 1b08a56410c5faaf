-- CRLF line endings
CREATE TABLE t (
  id int
);
--> statement-breakpoint
INSERT INTO t VALUES (1); -- trailing comment
INSERT INTO t VALUES (2);
