"""core/fix's safe_sequence: one test per rewrite, each checking the exact migrations it returns."""

from __future__ import annotations

from migrakit.core.classify import NO_TRANSACTION, classify
from migrakit.core.fix import Facts, quote_ident, render_migration, safe_sequence, without_noop_pairs
from migrakit.core.fix.backfill import backfill


def rules(texts: list[str]) -> list[str]:
    return [c.rule for c in safe_sequence(texts).changes]


def test_create_index_becomes_concurrently_in_its_own_migration_keeping_the_authors_spacing() -> None:
    result = safe_sequence(["alter table t add column x int", "CREATE  INDEX /* why */ i ON t (x)", "select 1"])
    assert result.migrations == [
        ["alter table t add column x int"],
        ["CREATE  INDEX CONCURRENTLY /* why */ i ON t (x)"],
        ["select 1"],
    ]
    assert rules(["CREATE INDEX i ON t (x)"]) == ["index-concurrently"]


def test_unique_index_keeps_unique_and_gets_concurrently() -> None:
    assert safe_sequence(["create unique index i on s.t using btree (a);"]).migrations == [
        ["create unique index CONCURRENTLY i on s.t using btree (a);"]
    ]


def test_an_index_already_concurrent_moves_into_its_own_migration_unchanged() -> None:
    result = safe_sequence(["ALTER TABLE t ADD x int", "CREATE INDEX CONCURRENTLY i ON t (x)"])
    assert result.migrations == [["ALTER TABLE t ADD x int"], ["CREATE INDEX CONCURRENTLY i ON t (x)"]]


def test_drop_index_becomes_concurrently() -> None:
    assert safe_sequence(['DROP INDEX IF EXISTS "public"."i"']).migrations == [
        ['DROP INDEX CONCURRENTLY IF EXISTS "public"."i"']
    ]


def test_drop_index_cascade_or_of_several_indexes_is_left_alone() -> None:
    assert not safe_sequence(["DROP INDEX i CASCADE"]).changed
    assert not safe_sequence(["DROP INDEX i, j"]).changed


def test_foreign_key_is_added_not_valid_and_validated_in_the_next_migration() -> None:
    text = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id) ON DELETE CASCADE;"
    assert safe_sequence([text]).migrations == [
        ["ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id) ON DELETE CASCADE NOT VALID;"],
        ["ALTER TABLE orders VALIDATE CONSTRAINT fk"],
    ]


def test_check_is_added_not_valid_and_validated_in_the_next_migration() -> None:
    assert safe_sequence(["ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) -- positive"]).migrations == [
        ["ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID -- positive"],
        ["ALTER TABLE t VALIDATE CONSTRAINT c"],
    ]


def test_a_validate_in_the_same_migration_moves_to_the_next_one() -> None:
    add = 'alter table "public"."orders" add constraint "o_fk" FOREIGN KEY (u) REFERENCES users(id) not valid;'
    check = 'alter table "public"."orders" validate constraint "o_fk";'
    assert safe_sequence([add, check]).migrations == [[add], [check]]


def test_set_not_null_goes_through_a_validated_check() -> None:
    text = 'alter table "public"."users" alter column "email" set not null'
    assert safe_sequence([text]).migrations == [
        ["ALTER TABLE public.users ADD CONSTRAINT users_email_not_null_check CHECK (email IS NOT NULL) NOT VALID"],
        ["ALTER TABLE public.users VALIDATE CONSTRAINT users_email_not_null_check"],
        [text, "ALTER TABLE public.users DROP CONSTRAINT users_email_not_null_check"],
    ]


def test_unique_constraint_becomes_a_concurrent_index_then_using_index() -> None:
    assert safe_sequence(['ALTER TABLE users ADD CONSTRAINT "Email_key" UNIQUE (email, "Org")']).migrations == [
        ['CREATE UNIQUE INDEX CONCURRENTLY "Email_key" ON users (email, "Org")'],
        ['ALTER TABLE users ADD CONSTRAINT "Email_key" UNIQUE USING INDEX "Email_key"'],
    ]


def test_refresh_becomes_concurrently_only_where_a_unique_index_allows() -> None:
    facts = Facts(unique_indexed_views=frozenset({"public.mv"}))
    result = safe_sequence(["REFRESH MATERIALIZED VIEW mv", "REFRESH MATERIALIZED VIEW other"], facts)
    assert result.migrations == [["REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "REFRESH MATERIALIZED VIEW other"]]


def test_volatile_default_is_set_after_the_column_and_rows_backfilled_in_batches_in_their_own_migration() -> None:
    result = safe_sequence(["ALTER TABLE t ADD COLUMN r float8 DEFAULT random()::float8 NULL;"])
    assert result.migrations == [
        ["ALTER TABLE t ADD COLUMN r float8 NULL;", "ALTER TABLE t ALTER COLUMN r SET DEFAULT random()::float8"],
        [backfill("t", "r")],
    ]
    assert rules(["ALTER TABLE t ADD COLUMN r float8 DEFAULT random()"]) == ["volatile-default"]


def test_the_backfill_commits_each_batch_so_it_runs_outside_a_transaction() -> None:
    block = backfill('"S"."T"', "c", batch_rows=500)
    assert block.startswith("DO $migrakit$") and block.endswith("$migrakit$")
    assert "LIMIT 500" in block and "COMMIT;" in block
    assert 'UPDATE "S"."T" SET c = DEFAULT WHERE ctid = ANY (migrakit_batch) AND c IS NULL' in block
    assert classify(block).kind == NO_TRANSACTION  # db.migrate runs it alone, outside a transaction


def test_the_backfills_variables_never_take_the_columns_name() -> None:
    block = backfill("t", "migrakit_batch")
    assert "migrakit_batch_ tid[]" in block and "SET migrakit_batch = DEFAULT" in block


def test_a_not_null_volatile_default_gets_the_backfill_then_not_null_through_a_validated_check() -> None:
    text = 'ALTER TABLE "users" ADD COLUMN "token" uuid DEFAULT gen_random_uuid() NOT NULL;'  # drizzle-kit's form
    check = "users_token_not_null_check"
    assert safe_sequence([text]).migrations == [
        ['ALTER TABLE "users" ADD COLUMN "token" uuid;', "ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()"],
        [backfill("users", "token")],
        [f"ALTER TABLE users ADD CONSTRAINT {check} CHECK (token IS NOT NULL) NOT VALID"],
        [f"ALTER TABLE users VALIDATE CONSTRAINT {check}"],
        ["ALTER TABLE users ALTER COLUMN token SET NOT NULL", f"ALTER TABLE users DROP CONSTRAINT {check}"],
    ]  # fmt: skip


def test_not_null_written_before_the_volatile_default_is_taken_out_too() -> None:
    result = safe_sequence(["ALTER TABLE t ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid()"])
    assert result.migrations[0] == ["ALTER TABLE t ADD COLUMN u uuid", "ALTER TABLE t ALTER COLUMN u SET DEFAULT gen_random_uuid()"]


def test_a_stable_default_like_now_is_left_alone() -> None:
    assert not safe_sequence(["ALTER TABLE users ADD COLUMN at timestamptz DEFAULT now()"]).changed


def test_a_volatile_default_with_a_key_or_a_named_not_null_is_left_alone() -> None:
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN u uuid UNIQUE DEFAULT gen_random_uuid()"]).changed
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN u uuid CONSTRAINT nn NOT NULL DEFAULT gen_random_uuid()"]).changed


def test_a_serial_column_is_written_out_as_its_sequence_then_backfilled_and_made_not_null() -> None:
    text = 'ALTER TABLE "users" ADD COLUMN "seq_no" serial NOT NULL;'  # drizzle-kit's form
    check = "users_seq_no_not_null_check"
    assert safe_sequence([text]).migrations == [
        ["CREATE SEQUENCE users_seq_no_seq AS integer", 'ALTER TABLE "users" ADD COLUMN "seq_no" integer;',
         "ALTER SEQUENCE users_seq_no_seq OWNED BY users.seq_no",
         "ALTER TABLE users ALTER COLUMN seq_no SET DEFAULT nextval('users_seq_no_seq'::regclass)"],
        [backfill("users", "seq_no")],
        [f"ALTER TABLE users ADD CONSTRAINT {check} CHECK (seq_no IS NOT NULL) NOT VALID"],
        [f"ALTER TABLE users VALIDATE CONSTRAINT {check}"],
        ["ALTER TABLE users ALTER COLUMN seq_no SET NOT NULL", f"ALTER TABLE users DROP CONSTRAINT {check}"],
    ]  # fmt: skip
    assert rules([text]) == ["volatile-default"]


def test_each_serial_spelling_gets_its_integer_type_and_the_tables_schema() -> None:
    first = safe_sequence(["ALTER TABLE s.t ADD big bigserial"]).migrations[0]
    assert first == ["CREATE SEQUENCE s.t_big_seq AS bigint", "ALTER TABLE s.t ADD big bigint",
                     "ALTER SEQUENCE s.t_big_seq OWNED BY s.t.big",
                     "ALTER TABLE s.t ALTER COLUMN big SET DEFAULT nextval('s.t_big_seq'::regclass)"]  # fmt: skip
    assert safe_sequence(["ALTER TABLE t ADD COLUMN c serial2"]).migrations[0][:2] == [
        "CREATE SEQUENCE t_c_seq AS smallint", "ALTER TABLE t ADD COLUMN c smallint"]  # fmt: skip


def test_a_serials_sequence_name_is_shortened_as_postgresql_shortens_it() -> None:
    table, column = "a" * 60, "b" * 10
    created = safe_sequence([f"ALTER TABLE {table} ADD COLUMN {column} serial"]).migrations[0][0]
    assert created == f"CREATE SEQUENCE {'a' * 48}_{column}_seq AS integer"  # 63 bytes, the longer name cut


def test_a_serial_with_a_key_a_named_not_null_or_if_not_exists_is_left_alone() -> None:
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN id serial PRIMARY KEY"]).changed
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN n serial CONSTRAINT nn NOT NULL"]).changed
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN IF NOT EXISTS n serial"]).changed
    assert not safe_sequence(["CREATE TABLE n (id int)", "ALTER TABLE n ADD COLUMN s serial"]).changed


def test_an_identity_column_is_added_plain_backfilled_from_a_sequence_then_made_identity_going_on_from_it() -> None:
    text = 'ALTER TABLE "users" ADD COLUMN "n" integer GENERATED BY DEFAULT AS IDENTITY NOT NULL'
    check, seq = "users_n_not_null_check", "users_n_migrakit_seq"
    assert safe_sequence([text]).migrations == [
        [f"CREATE SEQUENCE {seq}", 'ALTER TABLE "users" ADD COLUMN "n" integer',
         f"ALTER TABLE users ALTER COLUMN n SET DEFAULT nextval('{seq}'::regclass)"],
        [backfill("users", "n")],
        [f"ALTER TABLE users ADD CONSTRAINT {check} CHECK (n IS NOT NULL) NOT VALID"],
        [f"ALTER TABLE users VALIDATE CONSTRAINT {check}"],
        ["ALTER TABLE users ALTER COLUMN n SET NOT NULL", f"ALTER TABLE users DROP CONSTRAINT {check}",
         "ALTER TABLE users ALTER COLUMN n DROP DEFAULT",
         "ALTER TABLE users ALTER COLUMN n ADD GENERATED BY DEFAULT AS IDENTITY",
         f"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('users', 'n'), last_value, is_called) FROM {seq}",
         f"DROP SEQUENCE {seq}"],
    ]  # fmt: skip


def test_an_identity_with_sequence_options_or_a_key_is_left_alone() -> None:
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY (START WITH 10)"]).changed
    assert not safe_sequence(["ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]).changed


def test_statements_on_a_table_created_in_the_same_migration_need_no_fix() -> None:
    texts = [
        "CREATE TABLE n (id int, e text)",
        "CREATE INDEX ON n (id)",
        "ALTER TABLE n ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES t (id)",
        "ALTER TABLE n ALTER COLUMN e SET NOT NULL",
    ]
    assert safe_sequence(texts).migrations == [texts]
    assert not safe_sequence(texts).changed


def test_an_unnamed_constraint_and_unparsable_text_are_kept_as_written() -> None:
    assert not safe_sequence(["ALTER TABLE t ADD FOREIGN KEY (u) REFERENCES users (id)"]).changed
    assert safe_sequence(["CREATE INDEX oops ON"]).migrations == [["CREATE INDEX oops ON"]]


def test_validations_and_finishing_steps_of_several_statements_share_their_migrations() -> None:
    result = safe_sequence(["ALTER TABLE a ADD CONSTRAINT c1 CHECK (x > 0)", "ALTER TABLE b ALTER COLUMN y SET NOT NULL"])
    assert result.migrations == [
        ["ALTER TABLE a ADD CONSTRAINT c1 CHECK (x > 0) NOT VALID",
         "ALTER TABLE b ADD CONSTRAINT b_y_not_null_check CHECK (y IS NOT NULL) NOT VALID"],
        ["ALTER TABLE a VALIDATE CONSTRAINT c1", "ALTER TABLE b VALIDATE CONSTRAINT b_y_not_null_check"],
        ["ALTER TABLE b ALTER COLUMN y SET NOT NULL", "ALTER TABLE b DROP CONSTRAINT b_y_not_null_check"],
    ]  # fmt: skip


def test_quote_ident_and_render_migration() -> None:
    assert [quote_ident(n) for n in ("users", "Users", "user", "a b", 'q"')] == [
        "users", '"Users"', '"user"', '"a b"', '"q"""'
    ]  # fmt: skip
    assert render_migration(["SELECT 1", "SELECT 2;"]) == "SELECT 1;\n--> statement-breakpoint\nSELECT 2;\n"


FK_DROP = 'alter table "public"."orders" drop constraint "orders_user_id_fkey";'
FK_ADD = ('alter table "public"."orders" add constraint "orders_user_id_fkey" FOREIGN KEY ("user_id") '
          'REFERENCES "public"."users"("id") NOT VALID;')  # fmt: skip
FK_VALIDATE = 'alter table "public"."orders" validate constraint "orders_user_id_fkey";'
NICK = 'alter table "public"."users" add column "nick" text;'


def test_an_unchanged_foreign_key_dropped_and_re_added_by_the_diff_is_left_out() -> None:
    unchanged = {("public", "orders", "orders_user_id_fkey")}
    assert without_noop_pairs([FK_DROP, NICK, FK_ADD, FK_VALIDATE], unchanged) == [NICK]


def test_a_changed_constraint_keeps_its_drop_and_add() -> None:
    assert without_noop_pairs([FK_DROP, NICK, FK_ADD, FK_VALIDATE], set()) == [FK_DROP, NICK, FK_ADD, FK_VALIDATE]


def test_the_pairs_stay_when_the_diff_drops_something_else() -> None:
    drop_key = 'alter table "public"."users" drop constraint "users_pkey";'
    statements = [FK_DROP, drop_key, FK_ADD, FK_VALIDATE]
    assert without_noop_pairs(statements, {("public", "orders", "orders_user_id_fkey")}) == statements


def test_split_tags_numbers_the_pieces_and_later_entries_on_with_increasing_when() -> None:
    from migrakit.core.drizzle.naming import split_tags

    assert split_tags([("0003_a", 100), ("0004_b", 101), ("0005_c", 500)], {"0003_a": 3}) == [
        ("0003_a", 0, "0003_a", 100), ("0003_a", 1, "0004_a_2", 101), ("0003_a", 2, "0005_a_3", 102),
        ("0004_b", 0, "0006_b", 103), ("0005_c", 0, "0007_c", 500),
    ]  # fmt: skip


def test_split_tags_keeps_timestamp_prefixes() -> None:
    from migrakit.core.drizzle.naming import split_tags

    entries = [("20250101000000_a", 100), ("20250101000001_b", 1100)]
    assert split_tags(entries, {"20250101000000_a": 2}) == [
        ("20250101000000_a", 0, "20250101000000_a", 100), ("20250101000000_a", 1, "20250101000000_a_2", 101),
        ("20250101000001_b", 0, "20250101000001_b", 1100),
    ]  # fmt: skip


def test_comment_lines_above_a_statement_stay_with_it_through_the_fix() -> None:
    from migrakit.core.fix import with_leading_comments
    from migrakit.core.postgres.statements import split_statements

    source = ("-- header\n\n-- migrakit:allow some-rule why\nCREATE INDEX i ON t (a);\n--> statement-breakpoint\n"
              "-- the column\nALTER TABLE t ADD x int; -- about x\n--> statement-breakpoint\n"
              "ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0);")  # fmt: skip
    texts = with_leading_comments(source, [(s.start, s.end) for s in split_statements(source)])
    assert texts == [
        "-- header\n-- migrakit:allow some-rule why\nCREATE INDEX i ON t (a)",
        "-- the column\nALTER TABLE t ADD x int",
        "ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0)",
    ]
    assert safe_sequence(texts).migrations[0] == ["-- header\n-- migrakit:allow some-rule why\nCREATE INDEX CONCURRENTLY i ON t (a)"]
