"""bench/ingest_ceiling.py end to end in its quick mode, so that it cannot rot.

The benchmark's figures are rates, measured on a shared machine: they are published in
docs/benchmarks.md, never asserted here. What is asserted is what the run checked: every
rating the publishers sent was counted by the plain subscriber, stored once by `hailong serve`
(none rejected, none a duplicate), confirmed to its device, and health said `ok`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_mode_runs_both_legs_and_checks_every_rating(tmp_path):
    figures_file = tmp_path / "figures.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest_ceiling.py"), "--quick",
                             "--json", str(figures_file)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(figures_file.read_text())
    assert (figures["ratings"], figures["publishers"], len(figures["rounds"])) == (400, 2, 1)
    collector = figures["rounds"][0]["collector"]
    assert collector["checked"] == {"stored": 400, "confirmed": 400, "health": [200, "ok"],
                                    "totals_added": {"stored": 400, "duplicate": 0,
                                                     "rejected": 0}}
    for leg in ("ceiling", "collector"):
        assert figures["rounds"][0][leg]["rate"] > 0
        assert set(figures["rounds"][0][leg]["cpu_us"]) == {"publisher", "broker", "receiver"}
    assert "ratio committed/ceiling" in result.stdout
