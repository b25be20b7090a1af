"""Every identifier pattern matches the whole text: `$` with re.match also accepts a final
newline, which would let "kiosk-hk-01\n" or "HK-0001\n" into the registry, the password file
or the organisation as a second, different id that looks the same."""

import re

import pytest

from collector.accounts import users as accounts
from collector.org import brokerconf, credentials, registry, validation
from collector.protocol.messages import DEVICE_ID_PATTERN, DOSSIER_PATTERN

PATTERNS = {
    "accounts.LOGIN_PATTERN": (accounts.LOGIN_PATTERN, "leader-hk"),
    "brokerconf.ADDRESS_PATTERN": (brokerconf.ADDRESS_PATTERN, "127.0.0.1"),
    "brokerconf.USERNAME_PATTERN": (brokerconf.USERNAME_PATTERN, "hailong-collector"),
    "validation.ID_PATTERN": (validation.ID_PATTERN, "HK-0001"),
    "registry.ENTITY_ID_PATTERN": (registry.ENTITY_ID_PATTERN, "hk-q5"),
    "messages.DEVICE_ID_PATTERN": (DEVICE_ID_PATTERN, "kiosk-hk-01"),
    "messages.DOSSIER_PATTERN": (DOSSIER_PATTERN, "000.00.01.H26-250101-0001"),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_an_identifier_with_a_trailing_newline_is_refused(name):
    pattern, good = PATTERNS[name]
    assert pattern.match(good), f"{name} should accept {good!r}"
    assert not pattern.match(good + "\n"), f"{name} accepts {good!r} + newline"


def test_a_password_hash_with_a_trailing_newline_is_not_a_hash():
    encoded = credentials.hash_password("correct horse battery")
    assert credentials.is_password_hash(encoded)
    assert not credentials.is_password_hash(encoded + "\n")


def test_no_identifier_pattern_in_the_collector_ends_in_a_bare_dollar():
    from pathlib import Path
    offenders = []
    for path in sorted(Path("collector").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "re.compile(" in line and re.search(r"\$\"\)|\$'\)", line):
                offenders.append(f"{path}:{number}")
    assert offenders == []
