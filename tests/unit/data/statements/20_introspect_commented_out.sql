-- Current sql file was generated after introspecting the database
-- If you want to run this migration please uncomment this code before executing migrations
/*
CREATE TABLE "t" (
	"id" integer /* inline */ NOT NULL
);
*/