"""Which broker node the ingest talks to, and when it moves on to the next.

`hailong serve --broker` may name several nodes of one cluster (collector.core.settings
`BrokerAddress`: `mqtt://USER@HOST:PORT,HOST:PORT,…`). The collector may move between them
because NATS keeps MQTT sessions — subscriptions, the queue, what was delivered and not yet
acknowledged — in replicated JetStream streams: reconnecting to another node under its fixed
client id, with clean session off, it finds its session there (docs/scaling.md). What it
guarantees does not depend on the node: acknowledgement after commit, and a PUBACK only on the
connection that delivered the message (the generation, collector/ingest/subscriber.py).

- The first connection goes to the first node. When a connection cannot be made, is refused
  (CONNACK), is lost, or has its subscriptions refused, paho's next attempt goes to the next
  node, round robin, after paho's backoff (RECONNECT_MIN_S doubling to RECONNECT_MAX_S, back
  to the minimum after a CONNACK that accepts). A single node is always that node, as before.
- A refused subscription (SUBACK 0x80: an ACL, or a NATS node whose JetStream cannot create
  the subscription's consumer yet — met in tools/nats_failover.py) would leave the collector
  connected and deaf. The connection is dropped and the next node tried, until a subscription
  is granted. Every CONNACK that accepts starts paho's backoff again, so refusals in a row keep
  their own (`refusal_delay`); health says `broker_subscription_refused` meanwhile.

How, with paho 2: its loop reconnects to the host and port the client holds, and
`connect_async`, called on the network thread from `on_disconnect` or `on_connect_fail`, sets
them for its next attempt (paho's property setters refuse while a connection is in progress;
`connect_async` is the public way, and `disconnect()` would end the loop, which is for
stopping). A connection is dropped by shutting its socket down: paho sees it lost and
reconnects as for any lost connection.

`guarded` wraps each paho callback: paho re-raises a callback's exception in its network thread,
which would end the connection for good (and all ingest with it).
"""

from __future__ import annotations

import logging
import socket
from typing import Callable, Sequence

import paho.mqtt.client as mqtt

from collector.core.settings import BrokerAddress

KEEPALIVE_S = 30
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
REFUSED_MIN_S, REFUSED_MAX_S = 1, 30

log = logging.getLogger("hailong.ingest")


def refusal_delay(refusals: int) -> int:
    """Seconds before the next connection after `refusals` subscriptions refused in a row."""
    return min(REFUSED_MIN_S * 2 ** max(refusals - 1, 0), REFUSED_MAX_S)


class Failover:
    """The broker's nodes in turn, and what the last refused subscription said. Changed on
    paho's network thread only (its callbacks); other threads only read."""

    def __init__(self, broker: BrokerAddress, keepalive_s: int = KEEPALIVE_S):
        self.nodes = broker.nodes
        self.keepalive_s = keepalive_s
        self.refusals = 0  # subscriptions refused in a row; 0 once one is granted
        self.refused: str | None = None  # why the last one was refused, until one is granted
        self._index = 0
        self._dropping = False  # the connection being lost is one this object dropped

    @property
    def current(self) -> BrokerAddress:
        """The node paho connects (or is connected) to."""
        return self.nodes[self._index]

    def connect(self, client: mqtt.Client) -> None:
        """Point paho at the current node; its loop (loop_start) makes the connection."""
        node = self.current
        client.connect_async(node.host, node.port, keepalive=self.keepalive_s)

    def move_on(self, client: mqtt.Client) -> None:
        """After a failure: paho's next attempt goes to the next node."""
        if len(self.nodes) > 1:
            self._index = (self._index + 1) % len(self.nodes)
            self.connect(client)

    def unreachable(self, client: mqtt.Client) -> str:
        """`on_connect_fail` (no TCP connection): the next node; returns the error."""
        node = self.current
        self.move_on(client)
        log.warning("cannot connect to broker %s; trying %s", node, self.current)
        return f"cannot connect to {node}"

    def lost(self, client: mqtt.Client, reason: mqtt.ReasonCode) -> str | None:
        """`on_disconnect` (not while stopping): the next node, unless we hung up ourselves
        (`disconnect()`, reason Success). Returns the error, None after `refuse`'s own drop
        (the refusal is the error)."""
        dropped, self._dropping = self._dropping, False
        node = self.current
        if reason.is_failure:
            self.move_on(client)
        if dropped:
            return None
        log.warning("lost broker %s: %s; reconnecting to %s", node, reason, self.current)
        return f"disconnected: {reason}"

    def refuse(self, client: mqtt.Client, failed: Sequence[mqtt.ReasonCode]) -> str:
        """Subscriptions refused: drop the connection, and make paho's next attempt (to the
        next node) wait longer the more refusals came in a row. Returns the error."""
        self.refusals += 1
        self.refused = str(failed[0])
        delay = refusal_delay(self.refusals)
        client.reconnect_delay_set(min_delay=delay, max_delay=max(delay, RECONNECT_MAX_S))
        node = self.current
        self._dropping = drop(client)
        following = self.nodes[(self._index + 1) % len(self.nodes)]
        log.error("broker %s refused our subscriptions (%s): reconnecting in %d s to %s", node,
                  ", ".join(map(str, failed)), delay, following)
        return f"subscription refused: {failed[0]}"

    def grant(self, client: mqtt.Client) -> None:
        """The subscriptions granted: paho's own backoff again."""
        if self.refusals:
            client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        self.refusals, self.refused = 0, None


def drop(client: mqtt.Client) -> bool:
    """Cut the client's connection so that paho finds it lost and reconnects; False when there
    was none to cut."""
    sock = client.socket()
    if not isinstance(sock, socket.socket):  # None: no connection (TLS sockets are sockets)
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the peer: paho finds it lost all the same
        pass
    return True


def guarded(callback: Callable[..., None]) -> Callable[..., None]:
    """A paho callback that never raises (logged instead): see the module docstring."""
    def guarded(*args) -> None:
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - logged; the thread must go on
            log.exception("%s failed", callback.__name__)
    guarded.__name__ = callback.__name__
    return guarded
