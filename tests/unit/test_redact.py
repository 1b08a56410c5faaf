"""core.redact without a driver: libpq's first-@ rule, the pieces of a mistyped password, whole-token masking
of short passwords, and never echoing what cannot be parsed."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrakit.core import redact


def test_libpqs_first_at_reading_and_the_users_are_both_secrets():
    found = redact.passwords("postgresql://app:p@ss@w0rd@host/db", ["p"])
    assert {"p", "p@ss@w0rd", "ss@w0rd", "ss", "w0rd"} <= found
    assert redact.redact_url("postgresql://app:p@ss@w0rd@host/db") == "postgresql://app:***@host/db"
    assert redact.misread_userinfo("postgresql://app:p@ss@w0rd@host/db")
    assert not redact.misread_userinfo("postgresql://app:p%40ss@host/db")


def test_the_spill_into_the_host_is_masked_in_libpqs_message():
    url = "postgresql://app:p@ss@w0rd@localhost/db"
    text = "failed to resolve host 'ss@w0rd@localhost': Name or service not known"
    assert redact.redact_text(text, [url], redact.passwords(url, ["p"])) == (
        "failed to resolve host '***@localhost': Name or service not known"
    )


@pytest.mark.parametrize("password", ["x", "fix", "1", "e"])
def test_a_short_password_is_masked_only_where_libpq_puts_it(password):
    url = f"postgresql://app:{password}@127.0.0.1:1/app"
    text = (
        f"error: cannot connect to {url}: connection to server at \"127.0.0.1\", port 1 failed\n"
        f"  fix:    check the exit code; value \"{password}\" rejected\n  state:  statement 1 of 3"
    )
    out = redact.redact_text(text, [url], redact.passwords(url, [password]))
    assert "app:***@127.0.0.1:1/app" in out and 'value "***" rejected' in out
    assert "  fix:    check the exit code;" in out and "statement 1 of 3" in out and '"127.0.0.1", port 1' in out


def test_long_passwords_are_masked_anywhere_and_json_keys_survive():
    url = "host=h password='se cr3t pass' dbname=d"
    secrets = redact.passwords(url, ["se cr3t pass"])
    out = redact.redact_text('{"fix": "se cr3t pass", "cause": "after \\"cr3t\\""}', [], secrets, short_in_quotes=False)
    assert out.startswith('{"fix": "***"') and "se cr3t" not in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres//app:secret@localhost/app", "<unparseable database URL: host localhost, database app>"),
        ("mysql://app:secret@db.internal:3306/app", "mysql://db.internal:3306/app"),
        ("http://app:secret@h/db", "http://h/db"),
        ("just some words", "<unparseable database URL>"),
    ],
)
def test_unparseable_and_foreign_urls_show_host_and_database_only(url, shown):
    assert redact.redact_url(url) == shown


def test_links_in_messages_are_left_alone():
    text = "see https://orm.drizzle.team/docs/migrations and user@example.com"
    assert redact.redact_text(text) == text


# the characters the masking patterns turn on, and line ends (a long output is scanned line by line)
_REDACT_ALPHABET = "ab:/@ \n\r\t.x-_%+'\"[1Pß"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_REDACT_ALPHABET, max_size=60))
def test_masking_only_the_lines_holding_a_match_changes_nothing(text):
    """redact_text scans only the lines holding `://` (or `@`) with the URL (or user-info) pattern: the same
    result as scanning the whole text."""
    mask_userinfo = lambda m: m.group(1) + redact.MASK + m.group(3)  # noqa: E731
    assert redact._sub_lines(redact._URL_TOKEN, redact._mask_url_token, text, "://") == redact._URL_TOKEN.sub(
        redact._mask_url_token, text
    )
    assert redact._sub_lines(redact._BARE_USERINFO, mask_userinfo, text, "@") == redact._BARE_USERINFO.sub(mask_userinfo, text)


def test_a_password_key_is_masked_in_a_long_text_and_in_any_case():
    lines = [f"{i:05d}_step  applied" for i in range(2000)]
    text = "\n".join([*lines, "conninfo: host=h PASSWORD=hunter2 dbname=d", "url: postgresql://app:s3cret@h/db", *lines])
    shown = redact.redact_text(text)
    assert "hunter2" not in shown and "s3cret" not in shown
    assert "PASSWORD=***" in shown and "postgresql://app:***@h/db" in shown
    assert shown.count("\n") == text.count("\n")
