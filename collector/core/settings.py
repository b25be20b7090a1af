"""Settings for one collector process, built explicitly by the CLI or a test (never at import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    db_path: Path
    # None: API and dashboard only, no ingest (used by tests of the pages, and read-only replicas).
    broker_url: str | None = "mqtt://127.0.0.1:1883"
    client_id: str = "hailong-collector"
    # Overrides a password in broker_url; read from a file so it stays out of `ps`.
    broker_password: str | None = None
    # How often the collector looks for roster or registry changes made by other processes.
    assignment_poll_s: float = 10.0
    # Scoring policy: a preset name (collector/evaluation/policies: hanoi-3814, decree-335) or a TOML path.
    policy: str = "hanoi-3814"
    # Key that signs login cookies; default: a file created beside the database (mode 0600).
    session_secret_file: Path | None = None
    # Reverse proxies (IP addresses or networks) whose X-Forwarded-For the login throttle
    # believes; none by default, so no client can pick the address it is counted under.
    trusted_proxies: tuple[str, ...] = ()
