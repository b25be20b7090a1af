"""Fault injection on real processes, short: no rating a device showed its thank-you for is
lost or stored twice while the collector is SIGKILLed, the broker is SIGKILLed with its store
lost, and devices lose their network and their power.

The long run (≥ 100,000 ratings, ≥ 10 collector kills, ≥ 3 broker restarts, an outage
longer than the broker's queue) is `.venv/bin/python tools/faults.py`; docs/reliability.md
has its figures. This version makes a few thousand ratings in about half a minute.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from faults import Plan, Run, healthy, queue_limit  # noqa: E402


def test_no_rating_is_lost_or_doubled_through_kills_store_loss_and_cuts(tmp_path):
    plan = Plan.short()
    figures = Run(plan, tmp_path, log=lambda line: None).execute()
    summary = {k: v for k, v in figures.items() if k != "plan"}
    # The faults really happened.
    assert figures["collector_sigkills"] >= 2, summary
    assert figures["broker_store_losses"] == 1, summary
    assert sum(figures["network_cuts"].values()) >= 1, summary
    assert figures["ratings_made_by_devices"] >= plan.target, summary
    # And cost nothing.
    assert (figures["lost"], figures["unexpected"], figures["stored_under_two_ids"]) == \
        (0, 0, 0), summary
    assert figures["ratings_stored"] == figures["ratings_made_by_devices"], summary
    assert (figures["journals_not_empty"], figures["journal_records_after_stop"]) == (0, 0), \
        summary
    assert figures["refused_by_device"] == 0, summary
    # Health heard of the lost broker session, and of nothing else.
    assert figures["sessions_lost_recorded"] >= 1, summary
    assert figures["health_reasons"] in ([], ["broker_session_lost"]), summary
    assert healthy(figures), summary


def test_the_queue_limit_is_read_as_mosquitto_reads_it():
    assert queue_limit("persistence true\n") == 1000  # Mosquitto's own default
    assert queue_limit("max_queued_messages 100\n# max_queued_messages 5\n"
                       "  max_queued_messages 20000\n") == 20000


def test_the_queue_limit_is_the_last_one_mosquitto_reads(tmp_path):
    from faults import broker_config_text
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "hailong.conf").write_text("max_queued_messages 1000000\n")
    main = tmp_path / "mosquitto.conf"
    main.write_text(f"max_queued_messages 5\ninclude_dir {tmp_path / 'conf.d'}\n")
    assert queue_limit(broker_config_text(main)) == 1000000
    main.write_text(main.read_text() + "max_queued_messages 1000\n")
    assert queue_limit(broker_config_text(main)) == 1000
