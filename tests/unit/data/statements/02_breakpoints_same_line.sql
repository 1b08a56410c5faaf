CREATE TABLE a (id int);--> statement-breakpoint
CREATE TABLE b (id int);--> statement-breakpointCREATE TABLE c (id int);--> statement-breakpoint
ALTER TABLE a ADD COLUMN note text;   --> statement-breakpoint   ALTER TABLE b ADD COLUMN note text;--> statement-breakpoint