CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$
  SELECT 'a';
  --> statement-breakpoint
  SELECT 'b';
$$;
