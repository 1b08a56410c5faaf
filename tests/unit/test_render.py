"""render/text.py (folding, grouping) and render/json/ (the envelope and error shapes), without a database."""

from migrakit.core.migration import Migration, TrackingRow, drizzle_hash
from migrakit.core.plan.planner import plan
from migrakit.db.connect import server
from migrakit.errors import DriftError, MigrationFailed
from migrakit.render.json import document as as_json
from migrakit.render.json import shapes
from migrakit.render.text import RICH_MAX_ROWS, fold, group_notes, table


def test_short_lists_are_not_folded():
    assert fold(["a", "b", "c"]) == "a, b, c"
    assert fold([f"m{i}" for i in range(10)]) == ", ".join(f"m{i}" for i in range(10))


def test_long_lists_keep_head_and_tail_and_count_what_is_hidden():
    tags = [f"{i:04d}_m" for i in range(186)]
    assert fold(tags) == "0000_m, 0001_m, 0002_m, … 181 more …, 0184_m, 0185_m"
    assert fold(tags[:11]) == "0000_m, 0001_m, 0002_m, … 6 more …, 0009_m, 0010_m"


def test_notes_about_many_migrations_become_one_line_in_first_place():
    subjects = [(f"migrations/{i:04d}_m.sql", f"{i:04d}_m") for i in range(12)]
    notes = ["first"] + [f"migrations/{i:04d}_m.sql holds no SQL: records {i:04d}_m as applied" for i in range(12)] + ["last"]
    assert group_notes(notes, subjects) == [
        "first",
        "12 migrations: its file holds no SQL: records it as applied "
        "(0000_m, 0001_m, 0002_m, … 7 more …, 0010_m, 0011_m)",
        "last",
    ]


def test_a_few_repeated_notes_and_different_notes_stay_as_they_are():
    subjects = [("migrations/a.sql", "a"), ("migrations/b.sql", "b"), ("migrations/c.sql", "c")]
    two = ["migrations/a.sql is empty", "migrations/b.sql is empty", "`when` of c is not after b's"]
    assert group_notes(two, subjects) == two
    three = ["no snapshot for a in meta/", "no snapshot for b in meta/", "no snapshot for c in meta/"]
    assert group_notes(three, subjects) == ["3 migrations: no snapshot for it in meta/ (a, b, c)"]
    assert group_notes(["a-b is fine"], subjects) == ["a-b is fine"]  # "a" inside "a-b" is not the tag a


def test_error_document_has_the_same_fields_for_every_error():
    failed = MigrationFailed("migration 0001_x failed at statement 2 of 3", file="m/0001_x.sql", migration="0001_x",
                             statement_no=2, statement_count=3, line=4, col=1, cause="boom", state="s", fix="f")  # fmt: skip
    drift = DriftError("edited", migration="0000_a")
    shown = server.redact_url("postgresql://u:hunter2@h/d")  # as tasks/_run.py gives it
    docs = [as_json.error_document("db.migrate", e, shown_url=shown) for e in (failed, drift)]
    assert [list(d) for d in docs] == [["schema_version", "task", "ok", "exit_code", "database", "database_url", "error"]] * 2
    assert list(docs[0]["error"]) == list(docs[1]["error"])
    assert docs[0]["error"]["statement"] == 2 and docs[0]["error"]["statement_count"] == 3
    assert (docs[1]["exit_code"], docs[1]["error"]["kind"], docs[1]["ok"]) == (3, "drift", False)
    assert "hunter2" not in as_json.dumps(docs[0]) and docs[0]["database_url"] == "postgresql://u:***@h/d"


def test_embedded_server_url_is_taken_from_its_display():
    display = "postgresql://postgres:@/migrakit?host=/tmp/sock (embedded, data in .migrakit/)"
    assert as_json.url_of(display, None) == "postgresql://postgres:@/migrakit?host=/tmp/sock"
    assert as_json.url_of(display, "postgresql://u:***@h/d") == "postgresql://u:***@h/d"  # the configured URL first


def test_duplicate_rows_serialize_as_rows_with_the_migration_they_duplicate():
    text = "CREATE TABLE a (id int);"
    m = Migration(tag="0000_a", when=1, path="migrations/0000_a.sql", text=text, hash=drizzle_hash(text.encode()))
    p = plan([m], [TrackingRow(1, m.hash, 1), TrackingRow(2, m.hash, 1)])
    assert shapes.problem(p.problems[0])["kind"] == "duplicate-rows"
    assert [{"migration": tag, **shapes.row(r)} for tag, r in p.duplicate_rows] == [
        {"migration": "0000_a", "id": 2, "hash": m.hash, "created_at": 1, "name": None}
    ]


def test_plain_table_aligns_columns_under_their_headers():
    assert table(["tag", "state"], [["0000_a", "applied"], ["0001_long_name", ""]], "plain") == (
        "tag             state\n0000_a          applied\n0001_long_name"
    )
    assert table(["tag", "state"], [], "plain") == "tag  state"


def test_a_terminal_gets_rich_boxes_for_a_short_table_and_every_row_as_plain_columns_for_a_long_one():
    few = [[f"{i:05d}_step", "applied"] for i in range(3)]
    boxed = table(["tag", "state"], few, "rich")
    assert "┃" in boxed and "00002_step" in boxed
    many = [[f"{i:05d}_step", "applied"] for i in range(RICH_MAX_ROWS + 1)]
    assert table(["tag", "state"], many, "rich") == table(["tag", "state"], many, "plain")
    assert table(["tag", "state"], many, "plain").count("\n") == RICH_MAX_ROWS + 1  # the header and every row
