-- Custom SQL migration file, put your code below! --
-- Keep config documents well-formed: every config must carry a "thresholds" object.
ALTER TABLE "flow_metrics_config" ADD CONSTRAINT "flow_metrics_config_thresholds_object"
  CHECK (jsonb_typeof("config" -> 'thresholds') = 'object');
CREATE INDEX "flow_metrics_config_config_gin_idx" ON "flow_metrics_config" USING gin ("config");
