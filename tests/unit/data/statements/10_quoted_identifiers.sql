CREATE TABLE "a;b" ("x-->y" int, "semi;colon" text, "quote""d;" int, "/* not a comment" int);
CREATE INDEX "i--> statement" ON "a;b" ("x-->y");
SELECT U&"d\0061t;a" FROM (SELECT 1 AS "data;") s(U&"d\0061t;a");
