"""What the collector publishes to devices: retained assignments and confirmations ("ack").

Both go out through the ingest's one paho client (collector/ingest/subscriber.py); paho's
`publish` may be called from any thread. The bytes are encoded by collector/protocol/outbound.py;
this module only decides what to send and sends it. Nothing here may stop the thread that calls
it: an assignment that cannot be encoded is skipped with a log line, the others still go out.
"""

from __future__ import annotations

import logging
import threading
from typing import Iterable

import paho.mqtt.client as mqtt

from collector.protocol.messages import device_topic
from collector.protocol.outbound import ack_messages, assignment_payload
from collector.db.reader import open_reader
from collector.roster.duty import current_assignments
from collector.ingest.recording import Incoming

log = logging.getLogger("hailong.ingest")


class Assignments:
    """Publishes, retained, each active device's assignment when it changes."""

    def __init__(self, client: mqtt.Client, store_path: str):
        self._client = client
        self._store_path = store_path
        # Last assignment payload published per device: the roster and the registry may change
        # from another process (the CLI), so the collector polls and sends only what changed.
        self._sent: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def publish(self, everything: bool = False) -> int:
        """Publish each active device's assignment that changed since the last time (all of
        them when `everything`); clear the retained one of a device no longer active.
        Returns how many messages went out."""
        reader = open_reader(self._store_path)
        try:
            rows = current_assignments(reader)
        finally:
            reader.conn.close()
        sent = 0
        with self._lock:
            if everything:
                self._sent.clear()
            current = {}
            for row in rows:
                try:
                    current[row["device_id"]] = assignment_payload(row)
                except ValueError as error:
                    # A label or name the device could not show (too long, say): that device
                    # keeps its previous assignment; the others are not held back.
                    log.error("cannot encode the assignment of %s: %s", row["device_id"], error)
                    if row["device_id"] in self._sent:
                        current[row["device_id"]] = self._sent[row["device_id"]]
            for device_id, payload in current.items():
                if self._sent.get(device_id) != payload:
                    self._client.publish(device_topic(device_id, "assignment"), payload, qos=1,
                                         retain=True)
                    self._sent[device_id] = payload
                    sent += 1
            for device_id in [d for d in self._sent if d not in current]:
                # An empty retained message deletes the broker's copy (MQTT 3.1.1, 3.3.1.3).
                self._client.publish(device_topic(device_id, "assignment"), b"", qos=1,
                                     retain=True)
                del self._sent[device_id]
                sent += 1
        return sent


def publish_confirmations(client: mqtt.Client, committed: Iterable[Incoming]) -> int:
    """Publish the "ack" messages for what was committed; return how many went out."""
    messages = ack_messages(item.parsed for item in committed)
    for topic, payload in messages:
        client.publish(topic, payload, qos=1, retain=False)
    return len(messages)
