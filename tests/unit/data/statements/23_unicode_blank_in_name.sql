SELECT 1 AS foo　;
SELECT 2 AS bar  ;
