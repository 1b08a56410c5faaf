-- hand-written: no markers, several statements per line and across lines
CREATE TABLE t (id int PRIMARY KEY, name text); CREATE TABLE u (id int);
INSERT INTO t VALUES (1, 'one'),
                     (2, 'two');
ALTER TABLE u
  ADD COLUMN t_id int REFERENCES t (id);
COMMENT ON TABLE t IS 'a table; with a semicolon';
