CREATE TABLE "flow_metrics_config" (
	"id" serial PRIMARY KEY NOT NULL,
	"flow_name" text NOT NULL,
	"config" jsonb DEFAULT '{"thresholds": {}, "enabled": true}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flow_metrics_config_flow_name_unique" UNIQUE("flow_name")
);
--> statement-breakpoint
CREATE TABLE "flow_metrics" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"flow_id" integer NOT NULL,
	"name" text NOT NULL,
	"value" double precision NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "flow_metrics" ADD CONSTRAINT "flow_metrics_flow_id_flow_metrics_config_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flow_metrics_config"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "flow_metrics_flow_recorded_idx" ON "flow_metrics" USING btree ("flow_id","recorded_at");
