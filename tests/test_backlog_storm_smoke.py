"""bench/backlog_storm.py end to end in its quick mode (50 devices x 20 ratings), so that it
cannot rot.

The storm's figures are times and memory on a shared machine: they are published in
docs/benchmarks.md, never asserted here. What is asserted is what the run checked: every
device connected with its own credentials, every rating stored exactly once (as many rows as
distinct ids, every device's seqs complete, none rejected), every device holding the
collector's confirmation of each of its ratings, and health `ok`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_storm_stores_every_rating_once_and_confirms_every_device(tmp_path):
    figures_file = tmp_path / "figures.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "backlog_storm.py"), "--quick",
                             "--json", str(figures_file)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(figures_file.read_text())
    assert (figures["devices"], figures["per_device"], figures["ratings"]) == (50, 20, 1000)
    [storm] = figures["rounds"]
    checked = storm["checked"]
    assert (checked["rows"], checked["distinct_ids"]) == (1000, 1000)
    assert (checked["devices_complete"], checked["devices_confirmed"]) == (50, 50)
    assert checked["totals"]["stored"] == 1000 and checked["totals"]["rejected"] == 0
    assert checked["health"] == [200, "ok"]
    assert checked["devices"]["connects"] >= 50 and checked["devices"]["refused"] == 0
    assert checked["devices"]["ratings_sent"] >= 1000
    assert storm["seconds_to_stored"] > 0 and storm["seconds_to_confirmed"] > 0
    assert storm["peak_mb"]["collector_mb"] > 0 and storm["peak_mb"]["broker_mb"] > 0
    assert "time to store all" in result.stdout
