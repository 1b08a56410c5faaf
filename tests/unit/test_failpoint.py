"""MIGRAKIT_FAILPOINT parsing and counting (the crash itself is exercised by
tests/integration/test_crash_every_boundary.py)."""

import pytest

from migrakit.db.run.failpoint import ENV, Failpoint, from_env
from migrakit.errors import ConfigError


def test_unset_or_empty_failpoint_is_none():
    assert from_env({}) is None
    assert from_env({ENV: "  "}) is None


@pytest.mark.parametrize("raw, expected", [("kill:1", Failpoint("kill", 1)), ("disconnect:17", Failpoint("disconnect", 17))])
def test_failpoint_is_read_from_the_environment(raw, expected):
    assert from_env({ENV: raw}) == expected


@pytest.mark.parametrize("raw", ["kill", "kill:", "kill:0", "kill:-1", "kill:x", "explode:3", "disconnect:1.5"])
def test_a_malformed_failpoint_is_a_configuration_error(raw):
    with pytest.raises(ConfigError) as info:
        from_env({ENV: raw})
    assert info.value.exit_code == 2
    assert ENV in info.value.message and "kill:K" in info.value.fix


def test_step_is_true_exactly_once_at_the_kth_statement():
    fp = Failpoint("kill", 3)
    assert [fp.step() for _ in range(5)] == [False, False, True, False, False]


def test_a_step_of_several_statements_fires_when_k_is_among_them():
    fp = Failpoint("kill", 3)
    assert fp.step(2) is False  # statements 1-2
    assert fp.step(4) is True  # statements 3-6
    assert fp.step(1) is False
