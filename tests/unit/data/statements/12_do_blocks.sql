DO $$
BEGIN
  CREATE TYPE mood AS ENUM ('sad', 'ok');
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;
DO LANGUAGE plpgsql $body$ BEGIN RAISE NOTICE '%; %', 1, 2; END $body$;
