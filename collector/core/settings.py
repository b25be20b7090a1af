"""Settings for one collector process, built explicitly by the CLI or a test (never at import),
and the broker address they name (`BrokerAddress`, shared by the ingest, the kiosk simulator and
the flashing tool's online check)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"broker must look like mqtt://HOST:PORT, not {url!r}")
        return cls(parts.hostname, parts.port or 1883, parts.username, parts.password)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


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
    # Scoring policy: a preset name (collector/evaluation/policies: hanoi-3814, decree-335) or a
    # TOML path.
    policy: str = "hanoi-3814"
    # Key that signs login cookies; default: a file created beside the database (mode 0600).
    session_secret_file: Path | None = None
    # Reverse proxies (IP addresses or networks) whose X-Forwarded-For the login throttle
    # believes; none by default, so no client can pick the address it is counted under.
    trusted_proxies: tuple[str, ...] = ()
