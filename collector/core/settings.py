"""Settings for one collector process, built explicitly by the CLI or a test (never at import),
and the broker address they name (`BrokerAddress`, shared by the ingest, the kiosk simulator and
the flashing tool's online check).

A broker address may name the nodes of one cluster, as MongoDB's and Kafka's connection strings
do: `mqtt://USER@HOST:PORT,HOST:PORT,HOST:PORT`. The scheme and the credentials are written
once, before the first node, and hold for every node: a cluster is reached the same way on each
(NATS gives every node the same accounts). That leaves the scheme to say how all of them are
reached, so `mqtts://` (TLS) can be added as one more entry of SCHEMES and a field, without a
new syntax. The ingest moves from node to node (collector/ingest/failover.py); the kiosk
simulator and the flashing tool, like a device, talk to the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Scheme -> default port. mqtts (8883) joins when the collector can speak TLS.
SCHEMES = {"mqtt": 1883}
SHAPE = "mqtt://HOST:PORT"
CLUSTER_SHAPE = "mqtt://HOST:PORT,HOST:PORT,…"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    # Further nodes of the same cluster, (host, port), tried in turn after the first.
    more_nodes: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        """`mqtt://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]`; ValueError saying what is
        wrong (Vietnamese, then English) and never repeating the credentials."""
        scheme, sep, rest = url.strip().partition("://")
        if not sep:
            scheme, rest = "mqtt", url.strip()
        if scheme not in SCHEMES:
            raise ValueError(_both(f"địa chỉ broker phải có dạng {SHAPE}, không phải "
                                   f"{_shown(url)!r}",
                                   f"the broker must look like {SHAPE}, not {_shown(url)!r}"))
        userinfo, at, hosts = rest.rpartition("@")
        username = password = None
        if "://" in userinfo:  # mqtt://u@a:1,mqtt://u@b:2
            raise _once("danh sách broker", "the broker list")
        if at:
            credentials = urlsplit(f"{scheme}://{userinfo}@_")
            username, password = credentials.username, credentials.password
        hosts = hosts.removesuffix("/")  # mqtt://host:1883/ was always accepted
        nodes = [_node(scheme, text.strip(), index, several="," in hosts)
                 for index, text in enumerate(hosts.split(","), start=1)]
        seen: set[tuple[str, int]] = set()
        for node in nodes:
            if node in seen:
                shown = _hostport(*node)
                raise ValueError(_both(f"{shown} có hai lần trong danh sách broker",
                                       f"{shown} is twice in the broker list"))
            seen.add(node)
        (host, port), *more = nodes
        return cls(host, port, username, password, tuple(more))

    @property
    def nodes(self) -> tuple["BrokerAddress", ...]:
        """Each node as an address of its own, with the shared credentials, first one first."""
        return tuple(BrokerAddress(host, port, self.username, self.password)
                     for host, port in ((self.host, self.port), *self.more_nodes))

    def __str__(self) -> str:
        hosts = ",".join(_hostport(host, port)
                         for host, port in ((self.host, self.port), *self.more_nodes))
        return f"mqtt://{hosts}"


def _node(scheme: str, text: str, index: int, *, several: bool) -> tuple[str, int]:
    """(host, port) of one node of the list; `index` counts from 1 for the messages."""
    which_vi, which_en = (f"địa chỉ thứ {index} trong danh sách broker",
                          f"address {index} of the broker list") if several else \
        ("địa chỉ broker", "the broker address")
    if not text:
        raise ValueError(_both(f"{which_vi} bị trống (dạng {CLUSTER_SHAPE})",
                               f"{which_en} is empty (write {CLUSTER_SHAPE})"))
    if "://" in text:
        raise _once(which_vi, which_en)
    host, port = None, None
    try:
        parts = urlsplit(f"{scheme}://{text}")
        port = parts.port  # ValueError when not a number from 0 to 65535
        if port != 0 and not (parts.path or parts.query or parts.fragment):
            host = parts.hostname
    except ValueError:
        pass
    if not host:
        raise ValueError(_both(f"{which_vi} phải có dạng HOST:PORT (cổng 1–65535), không phải "
                               f"{text!r}; ví dụ {SHAPE}",
                               f"{which_en} must look like HOST:PORT (port 1–65535), not "
                               f"{text!r}; e.g. {SHAPE}"))
    return host, port or SCHEMES[scheme]


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _shown(url: str) -> str:
    """The address without its credentials, for a message."""
    scheme, sep, rest = url.strip().partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else rest.rpartition("@")[2]


def _once(which_vi: str, which_en: str) -> ValueError:
    return ValueError(_both(f"{which_vi}: chỉ ghi HOST:PORT sau dấu phẩy; giao thức và tên "
                            "đăng nhập ghi một lần, trước địa chỉ đầu tiên "
                            f"({CLUSTER_SHAPE})",
                            f"{which_en}: only HOST:PORT after a comma; the scheme and the "
                            f"user name come once, before the first address ({CLUSTER_SHAPE})"))


def _both(vietnamese: str, english: str) -> str:
    return f"{vietnamese} / {english}"


@dataclass(frozen=True)
class Settings:
    db_path: Path
    # None: API and dashboard only, no ingest (used by tests of the pages, and read-only replicas).
    # Several nodes of one cluster: "mqtt://USER@HOST:PORT,HOST:PORT" (BrokerAddress).
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
