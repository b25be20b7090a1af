"""Schemathesis over the whole OpenAPI document as every role: no 500, and every answer as
the document declares it (tests/api_fuzzing.py says what is checked and why).

The suite's run is short: a few examples per operation, no coverage phase. The long run
(every phase, many examples) is the same code:

    HAILONG_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest -q -s tests/test_api_schemathesis.py
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("schemathesis")

from api_fuzzing import ROLES, fuzz, world  # noqa: E402

EXAMPLES = int(os.environ.get("HAILONG_FUZZ_EXAMPLES", "0"))


@pytest.fixture(scope="module")
def opened():
    """One seeded world for every role: the fuzzing writes into it as a real user would."""
    with world() as opened:
        yield opened


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(opened, role):
    long_run = EXAMPLES > 0
    figures = fuzz(examples=EXAMPLES or 2, roles=(role,), coverage=long_run, opened=opened)
    print(figures.summary())
    assert figures.operations >= 50 and figures.requests >= 2 * figures.operations
    assert not figures.failures, "\n\n".join(dict.fromkeys(figures.failures))
