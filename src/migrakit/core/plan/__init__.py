"""What a run applies: the plan (applied, pending, problems), what one run does with it, the `--to` cut. Pure."""
