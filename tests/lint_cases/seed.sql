CREATE TYPE mood AS ENUM ('happy', 'sad');
--> statement-breakpoint
CREATE TABLE users (id int PRIMARY KEY, email text, a int, name varchar(50), code text, feeling mood);
--> statement-breakpoint
INSERT INTO users SELECT g, 'user' || g || '@example.com', g, 'name ' || g, 'c' || g, 'happy' FROM generate_series(1, 5000) g;
--> statement-breakpoint
CREATE TABLE orders (id int PRIMARY KEY, user_id int, total int);
--> statement-breakpoint
INSERT INTO orders SELECT g, 1 + g % 5000, g FROM generate_series(1, 5000) g;
--> statement-breakpoint
ANALYZE users;
--> statement-breakpoint
ANALYZE orders;
