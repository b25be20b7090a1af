"""The spine, end to end on a real Mosquitto: kiosk → broker → collector → SQLite → API."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest
from factories import rating_bytes
from fastapi.testclient import TestClient
from kiosk.sim import SimulatedKiosk
from mosquitto import free_port
from waiting import wait_for

from accounts_support import admin_headers
from collector.demo.accounts import DEMO_PASSWORD
from collector.app import create_app
from collector.core.settings import Settings
from collector.db.store import Store
from collector.roster.shifts import assign

RATING_TOPIC = "hailong/v1/devices/kiosk-hk-01/rating"


@pytest.fixture
def collector(mosquitto, seeded_db):
    settings = Settings(db_path=seeded_db, broker_url=mosquitto.url,
                        client_id=f"test-{uuid.uuid4().hex[:8]}", assignment_poll_s=0.2)
    with TestClient(create_app(settings), headers=admin_headers(seeded_db)) as client:
        wait_for(lambda: client.get("/api/v1/health").json()["broker"]["connected"],
                 what="the collector to connect")
        yield client


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, payload: bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(5)


def rating_count(client: TestClient) -> int:
    return client.get("/api/v1/health").json()["ratings_total"]


def test_press_on_a_simulated_kiosk_reaches_the_api(mosquitto, collector):
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", mosquitto.port, boot=11).start()
    try:
        wait_for(lambda: "Nguyễn Thị Thu Hường" in kiosk.screen_text(), what="the officer card")
        kiosk.press(4)
        rows = wait_for(lambda: collector.get("/api/v1/ratings?device=kiosk-hk-01").json(),
                        what="the rating in the API")
    finally:
        kiosk.stop()
    assert rows[0]["id"] == "kiosk-hk-01:11:1" or rows[0]["id"].startswith("kiosk-hk-01:11:")
    assert (rows[0]["level"], rows[0]["officer_id"], rows[0]["attribution"]) == \
        (4, "HK-0001", "roster")
    month = collector.get("/api/v1/officers/HK-0001/satisfaction").json()
    assert (month["total"], month["counts"]["very_satisfied"], month["index"]) == (1, 1, 100.0)
    devices = {d["id"]: d for d in collector.get("/api/v1/devices").json()}
    assert devices["kiosk-hk-01"]["fw"] and devices["kiosk-hk-01"]["last_seen"]


def test_a_redelivered_rating_is_counted_once(mosquitto, collector):
    client = publisher(mosquitto.port)
    try:
        publish(client, RATING_TOPIC, rating_bytes(seq=500))
        publish(client, RATING_TOPIC, rating_bytes(seq=500))
        publish(client, RATING_TOPIC, rating_bytes(seq=501))
        wait_for(lambda: collector.get("/api/v1/health").json()["duplicates_total"] == 1,
                 what="the duplicate to be counted")
    finally:
        client.disconnect()
    assert rating_count(collector) == 2


def test_a_malformed_payload_is_kept_and_the_next_good_one_stored(mosquitto, collector):
    client = publisher(mosquitto.port)
    try:
        publish(client, RATING_TOPIC, b'{"v":1,"level":')
        publish(client, RATING_TOPIC, rating_bytes(seq=600))
        wait_for(lambda: rating_count(collector) == 1, what="the good rating")
    finally:
        client.disconnect()
    rejected = collector.get("/api/v1/rejected").json()
    assert [(r["reason"], r["payload_text"]) for r in rejected] == \
        [("invalid_json", '{"v":1,"level":')]


class CollectorProcess:
    """`hailong serve` as a real process, so it can be killed with SIGKILL."""

    def __init__(self, tmp_path, broker_url: str, db_path):
        self.http_port = free_port()
        self.log_path = tmp_path / f"collector-{uuid.uuid4().hex[:6]}.log"
        self.command = [sys.executable, "-m", "collector.cli.main", "--log-level", "DEBUG", "serve",
                        "--broker", broker_url, "--db", str(db_path), "--demo-data",
                        "--http", f"127.0.0.1:{self.http_port}", "--client-id", "kill-test"]
        self.process: subprocess.Popen | None = None

    def start(self) -> "CollectorProcess":
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._connected, timeout=20, what="the collector process to connect")
        return self

    def _connected(self) -> bool:
        try:
            health = httpx.get(f"http://127.0.0.1:{self.http_port}/api/v1/health", timeout=1)
            return health.json()["broker"]["connected"]
        except httpx.HTTPError:
            return False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


def stored_ids(db_path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM ratings ORDER BY id")]


def test_collector_killed_after_delivery_before_commit_loses_nothing(mosquitto, tmp_path):
    db_path = tmp_path / "kill.db"  # registry from `serve --demo-data`
    collector = CollectorProcess(tmp_path, mosquitto.url, db_path).start()
    # Hold SQLite's write lock: the collector receives the rating but cannot commit it.
    blocker = sqlite3.connect(db_path, timeout=1, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    client = publisher(mosquitto.port)
    try:
        publish(client, RATING_TOPIC, rating_bytes(seq=700))
        wait_for(lambda: f"received {RATING_TOPIC}" in collector.log_text(),
                 what="the collector to receive the rating")
        collector.kill()
        blocker.execute("ROLLBACK")
        blocker.close()
        assert stored_ids(db_path) == []

        restarted = CollectorProcess(tmp_path, mosquitto.url, db_path).start()
        try:
            wait_for(lambda: stored_ids(db_path) == ["kiosk-hk-01:1:700"],
                     what="the redelivered rating to be stored")
        finally:
            restarted.stop()
    finally:
        client.disconnect()
        if collector.process.poll() is None:
            collector.kill()


def start_demo(tmp_path, *options: str) -> tuple[subprocess.Popen, str]:
    http_port, mqtt_port = free_port(), free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "collector.cli.main", "demo", "--db", str(tmp_path / "demo.db"),
         "--http", f"127.0.0.1:{http_port}", "--mqtt-port", str(mqtt_port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return demo, f"http://127.0.0.1:{http_port}"


def get_json(url: str):
    """The JSON at url, or None while the server is not up."""
    try:
        return httpx.get(url, timeout=1).json()
    except httpx.HTTPError:
        return None


def finish(demo: subprocess.Popen, timeout: float) -> str:
    try:
        output, _ = demo.communicate(timeout=timeout)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    return output.decode()


def test_demo_for_seconds_produces_ratings_visible_in_the_api(tmp_path):
    # No history: every rating counted must come from the simulated kiosks of this run.
    demo, base = start_demo(tmp_path, "--for", "10", "--devices", "3", "--press-every", "0.2",
                            "--history-days", "0")
    browser = httpx.Client(timeout=5)
    try:
        wait_for(lambda: get_json(f"{base}/api/v1/health"), timeout=20, what="the demo's API")
        logged_in = browser.post(f"{base}/login", data={"login": "quantri",
                                                        "password": DEMO_PASSWORD})
        assert logged_in.status_code == 303

        def counted_ratings() -> int:
            overview = browser.get(f"{base}/api/v1/overview").json()
            return sum(row["total"] for row in overview["officers"])
        wait_for(lambda: counted_ratings() >= 3, timeout=20, what="demo ratings in the API")
    finally:
        browser.close()
        output = finish(demo, timeout=40)
    assert demo.returncode == 0, output
    assert f"{base}/" in output
    assert "quantri" in output and "chutich.hk" in output and DEMO_PASSWORD in output


def test_kiosk_command_presses_and_waits_for_the_broker(mosquitto, collector):
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "kiosk", "kiosk-bd-01", "--broker", mosquitto.url,
         "--press", "3", "2", "--cooldown", "0", "--boot", "77"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Đỗ Minh Châu" in result.stdout and "confirmed by the collector: 2" in result.stdout
    wait_for(lambda: len(collector.get("/api/v1/ratings?device=kiosk-bd-01").json()) == 2,
             what="both ratings")
    rows = collector.get("/api/v1/ratings?device=kiosk-bd-01").json()
    assert sorted(r["level"] for r in rows) == [2, 3]
    assert {r["officer_id"] for r in rows} == {"BD-0001"}


def test_kiosk_command_refuses_a_bad_button():
    result = subprocess.run([sys.executable, "-m", "collector.cli.main", "kiosk", "kiosk-bd-01",
                             "--press", "9"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "a button is 1 to 5" in result.stderr


def test_demo_stops_cleanly_on_ctrl_c(tmp_path):
    demo, base = start_demo(tmp_path, "--devices", "2")
    try:
        wait_for(lambda: (get_json(f"{base}/api/v1/health") or {}).get("broker", {})
                 .get("connected"), timeout=20, what="the demo to come up")
        demo.send_signal(signal.SIGINT)
    finally:
        output = finish(demo, timeout=20)
    assert demo.returncode == 0, output
    assert "stopped" in output
    assert get_json(f"{base}/api/v1/health") is None


def test_a_dossier_session_opened_through_the_api_is_rated_once(mosquitto, collector):
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", mosquitto.port, boot=12,
                           session_mode=True, cooldown_s=0).start()
    try:
        # The officer's name comes with the retained assignment: the kiosk has subscribed.
        wait_for(lambda: "sau khi nhận kết quả" in kiosk.screen_text()
                 and "Nguyễn Thị Thu Hường" in kiosk.screen_text(), what="the waiting screen")
        response = collector.post("/api/v1/devices/kiosk-hk-01/session",
                                  json={"dossier": "H26.1125.0007", "seconds": 120})
        assert response.status_code == 202, response.text
        wait_for(lambda: "vui lòng đánh giá" in kiosk.screen_text(), what="the rating to open")
        kiosk.press(3)
        kiosk.press(4)  # the dossier is rated: this one is excluded
        rows = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
            collector.get("/api/v1/ratings?device=kiosk-hk-01").json()), what="both presses")
    finally:
        kiosk.stop()
    by_seq = {row["seq"]: row for row in rows}
    assert (by_seq[0]["dossier"], by_seq[0]["excluded"]) == ("H26.1125.0007", None)
    assert (by_seq[1]["dossier"], by_seq[1]["excluded"]) == (None, "no_session")
    month = collector.get("/api/v1/officers/HK-0001/satisfaction").json()
    assert (month["total"], month["filtered_by_reason"]) == (1, {"no_session": 1})


def test_a_kiosk_cut_off_and_restarted_delivers_its_journal_once(mosquitto, collector,
                                                                 tmp_path):
    flash = tmp_path / "flash"
    # The broker is unreachable: presses go to the journal only.
    offline = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", free_port(), cooldown_s=0,
                             state_dir=str(flash)).start()
    for level in (1, 2, 3, 4, 4):
        offline.press(level)
    assert offline.wait_until(lambda: offline.queue_depth == 5)
    boot = offline.device.boot
    offline.kill()  # the power cut
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", mosquitto.port, cooldown_s=0,
                           state_dir=str(flash)).start()
    try:
        assert kiosk.device.boot == boot + 1, "a new boot number after the restart"
        assert kiosk.wait_until(lambda: kiosk.queue_depth == 0, 10)
        rows = wait_for(lambda: (lambda r: r if len(r) == 5 else None)(
            collector.get("/api/v1/ratings?device=kiosk-hk-01").json()), what="five ratings")
    finally:
        kiosk.stop()
    assert sorted(row["id"] for row in rows) == [f"kiosk-hk-01:{boot}:{seq}" for seq in range(5)]
    assert sorted(row["level"] for row in rows) == [1, 2, 3, 4, 4]
    assert collector.get("/api/v1/health").json()["ratings_total"] == 5


def test_roster_changes_made_elsewhere_reach_the_device(mosquitto, collector, seeded_db):
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", mosquitto.port, boot=13).start()
    try:
        wait_for(lambda: "Nguyễn Thị Thu Hường" in kiosk.screen_text(), what="the first officer")
        store = Store(seeded_db)  # another process's write, as `hailong devices` makes it
        try:
            assign(store.db, "kiosk-hk-01", "HK-0003")
        finally:
            store.close()
        wait_for(lambda: "Lê Hoàng Yến" in kiosk.screen_text(), what="the new officer")
        store = Store(seeded_db)
        try:
            assign(store.db, "kiosk-hk-01", None)
        finally:
            store.close()
        wait_for(lambda: "Quầy tạm dừng phục vụ" in kiosk.screen_text(), what="counter closed")
    finally:
        kiosk.stop()


def test_a_burst_of_negative_presses_raises_an_alert(mosquitto, collector):
    """Four "Không hài lòng" within the window at one counter: one alert, through the real
    broker and ingest, for the officer on duty."""
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", mosquitto.port, boot=11,
                           cooldown_s=0).start()
    try:
        wait_for(lambda: "Nguyễn Thị Thu Hường" in kiosk.screen_text(), what="the card")
        for _ in range(4):
            kiosk.press(1)
        items = wait_for(lambda: collector.get("/api/v1/alerts").json()["items"],
                         what="the alert")
    finally:
        kiosk.stop()
    assert [(a["counter_id"], a["officer_id"], a["negative"]) for a in items] == [
        ("hk-q1", "HK-0001", 4)]
