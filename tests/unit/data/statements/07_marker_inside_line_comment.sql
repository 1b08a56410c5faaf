SELECT 1; -- note: --> statement-breakpoint leaves this tail outside the comment
SELECT 2;
