-- Custom SQL migration file, put your code below! --
CREATE EXTENSION IF NOT EXISTS pgcrypto;
--> statement-breakpoint
UPDATE users SET token = gen_random_uuid();