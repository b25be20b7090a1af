"""Live ingest fuzzing, short: generated messages through a real Mosquitto into the real
collector threads; every message gets its outcome and storing never stops.

The long run (≥ 100,000 messages) is `.venv/bin/python tools/fuzz_ingest.py`;
docs/reliability.md has its figures. This version publishes about 2,000.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from fuzz_ingest import run  # noqa: E402
from fuzzcases import Generator  # noqa: E402

# Every case issue 10 names, as the generator labels them (a prefix of the case name).
ISSUE_CASES = ["lone_surrogate:officer", "lone_surrogate:fw", "lone_surrogate:key",
               "not_utf8", "non_finite:", "deep:[x1000", "version:1.0", "newline:id",
               "newline:dossier", "control:", "oversized", "bad_type:", "out_of_range:",
               "missing:", "not_object", "duplicate_key:", "bad_topic:", "unknown_device",
               "retained_status", "retained_", "duplicate", "future_ts", "valid", "status",
               "golden:"]


def test_two_thousand_messages_cover_every_case_of_the_issue():
    gen = Generator(7, [f"fz-{i:03d}" for i in range(20)], ["fz-unknown-0"])
    names = Counter(next(gen).name for _ in range(2000))
    missing = [case for case in ISSUE_CASES if not any(n.startswith(case) for n in names)]
    assert missing == []


def test_the_generator_is_reproducible_from_its_seed():
    def first(seed):
        gen = Generator(seed, ["fz-000", "fz-001"], ["fz-unknown-0"])
        gen.now = 1764064800000
        return [next(gen) for _ in range(200)]
    assert first(3) == first(3)
    assert first(3) != first(4)


def test_every_fuzzed_message_gets_its_outcome_and_storing_never_stops():
    figures = run(2000, seed=11, sentinel_every=500, log=lambda line: None)
    summary = {k: v for k, v in figures.items() if k not in ("cases", "reasons")}
    assert figures["received_by_collector"] == figures["delivered"], summary
    assert figures["collector_totals"] == figures["expected"], summary
    assert figures["db_ratings_added"] == figures["expected"]["stored"], summary
    assert figures["db_rejected_added"] == figures["expected"]["rejected"], summary
    assert figures["valid_ratings_missing"] == 0, summary
    assert figures["wrong_reason_cases"] == {}, summary
    assert figures["rejected_rows_missing"] == 0, summary
    assert figures["sentinels"] >= 3, summary
    assert (figures["health_http"], figures["health"]) == (200, "ok"), summary
    assert figures["replay_totals"] == figures["replay_expected"], summary
    assert figures["replay_health"] == "ok", summary
