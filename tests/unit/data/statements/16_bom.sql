CREATE TABLE t (id int);
--> statement-breakpoint
CREATE TABLE u (id int);
