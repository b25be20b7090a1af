"""Wait until a freshly provisioned device reports online on the broker.

The device publishes its status retained on every connect (docs/protocol.md). A retained copy
from before the flash proves nothing, so the watch subscribes *before* the device is reset
and only accepts a live message (MQTT sets the retain flag only on the copy a new
subscription receives): `state: "online"` for this device id, and only once `arm()` was
called, just before the reset: a periodic status the old firmware sent during the flash, or
one in flight from before the interruption, does not count.
"""

from __future__ import annotations

import json
import os
import threading

import paho.mqtt.client as mqtt

from collector.core.settings import BrokerAddress
from collector.fleet.flashing.errors import FlashError

SUBSCRIBE_TIMEOUT_S = 10.0


class OnlineWatch:
    """Listen on hailong/v1/devices/<id>/status; `wait()` returns the live online status."""

    def __init__(self, broker_url: str, device_id: str):
        try:
            self.broker = BrokerAddress.parse(broker_url)
        except ValueError as error:
            raise FlashError(str(error)) from None
        self.device_id = device_id
        self.topic = f"hailong/v1/devices/{device_id}/status"
        self._subscribed = threading.Event()
        self._online = threading.Event()
        self._armed = threading.Event()
        self.status: dict | None = None
        self.refused: str | None = None
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=f"hailong-flash-{os.getpid()}-{device_id}",
                                   clean_session=True)
        if self.broker.username:
            self._client.username_pw_set(self.broker.username, self.broker.password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self) -> "OnlineWatch":
        """Connect and subscribe; FlashError when the broker cannot be reached or refuses."""
        try:
            self._client.connect(self.broker.host, self.broker.port, keepalive=30)
        except OSError as error:
            raise FlashError(f"broker {self.broker} unreachable: {error}") from None
        self._client.loop_start()
        if not self._subscribed.wait(SUBSCRIBE_TIMEOUT_S) or self.refused:
            self.close()
            raise FlashError(f"broker {self.broker} " + (self.refused or "did not answer"))
        return self

    def arm(self) -> None:
        """From now on an online status counts: call it right before resetting the device."""
        self._armed.set()

    def wait(self, timeout: float) -> dict | None:
        """The device's online status, or None when it did not report within `timeout` s."""
        return self.status if self._online.wait(timeout) else None

    def close(self) -> None:
        self._client.disconnect()  # first: loop_stop() alone waits out the network loop's tick
        self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = f"refused the connection: {reason_code}"
            self._subscribed.set()
            return
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            self.refused = f"refused the subscription to {self.topic}"
        self._subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        if message.retain or not self._armed.is_set():
            return  # from before the flash, or from the old firmware
        try:
            status = json.loads(message.payload)
        except ValueError:
            return
        if (isinstance(status, dict) and status.get("state") == "online"
                and status.get("device") == self.device_id):
            self.status = status
            self._online.set()
