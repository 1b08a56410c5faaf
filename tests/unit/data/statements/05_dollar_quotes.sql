CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql AS $$ SELECT i + 1; $$;
CREATE FUNCTION notes() RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  s text := $q$ -->statement-breakpoint; --> Statement-Breakpoint; --> statement_breakpoint $q$;
BEGIN
  -- a dollar quote nested in another, with ; and $$ inside
  RETURN s || $$;$$ || '$fn';
END;
$fn$;
SELECT $a$ $b$ ; $b$ $a$, $_$x;y$_$, $A1$ ; $A1$;
