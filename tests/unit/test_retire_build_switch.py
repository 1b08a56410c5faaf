"""legacy.retire's build-command switch and fold text: pure string work, no database."""

import pytest

from migrakit.core.migration import Migration
from migrakit.sources.build_commands import switch_command
from migrakit.workflows.retire.plan import fold_text

SCRIPTS = ["scripts/unified-migrate.sh", "scripts/unified-migrate.ts"]


@pytest.mark.parametrize(
    "before, after",
    [
        ("sh scripts/unified-migrate.sh && next build", "migrakit db.migrate && next build"),
        ("./scripts/unified-migrate.sh", "migrakit db.migrate"),
        ("npx tsx scripts/unified-migrate.ts --all; node server.js", "migrakit db.migrate; node server.js"),
        ("next build && bash scripts/unified-migrate.sh || exit 1", "next build && migrakit db.migrate || exit 1"),
        ("next build", "next build"),  # does not call a legacy script: unchanged
        ("node scripts/unified-migrate-helper.js", "node scripts/unified-migrate-helper.js"),  # another file
    ],
)
def test_only_the_segments_that_run_a_legacy_script_are_replaced(before, after):
    assert switch_command(before, SCRIPTS) == after


def test_the_fold_keeps_each_file_byte_for_byte_in_run_order():
    files = [
        Migration(tag="022_a", when=1, path="legacy/022_a.sql", text="CREATE TABLE a (id int);", hash="1" * 64, mode="legacy"),
        Migration(tag="023_b", when=2, path="legacy/023_b.sql", text="DO $$ BEGIN END $$;\n", hash="2" * 64, mode="legacy"),
    ]
    text = fold_text(files)
    assert text.index("CREATE TABLE a (id int);\n") < text.index("DO $$ BEGIN END $$;\n")
    assert f"-- legacy file legacy/022_a.sql (sha256 {'1' * 64})" in text
    assert f"-- legacy file legacy/023_b.sql (sha256 {'2' * 64})" in text
