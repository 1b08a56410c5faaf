INSERT INTO t VALUES (E'it\'s; here');
INSERT INTO t VALUES ('it''s; here'), ('C:\path\');
INSERT INTO t VALUES (e'\\'), (E'\x3B;'), (U&'d\0061t;a'), ('multi
line; string');
SELECT 'a' 'b;';
