"""The real ESP32 layer (kiosk.esp32) on a stand-in board: boot, buttons, screen, journal.

board_double fakes machine, network, time and socket and scripts the buttons; everything
else is the firmware as it runs on the device, with its journal and boot counter in a
temporary folder. Runs on CPython and under real MicroPython (tests/micropython).
"""

import json
import os

from board_double import Board
from core_support import TempDir, rename, repo_path
from kiosk import rating
from kiosk.journal import Journal

CONFIG = {"device": "kiosk-hk-01", "host": "127.0.0.1", "port": 1883,
          "wifi": {"ssid": "UBND-HK", "password": "x"}, "cooldown_s": 0, "thanks_s": 2}
FRAME = 320 * 240 * 2
BUTTON_4 = 7  # hardware/pinmap.json: level 4 ("Rất hài lòng") is GPIO 7
BUTTON_1 = 4


class Files:
    """The journal's file-system boundary, as kiosk.esp32.FlashFS gives it on the board."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, src, dst):
        rename(src, dst)

    def remove(self, path):
        os.remove(path)


def prepare(folder, config=CONFIG, pinmap=None):
    with open(folder.file("config.json"), "w") as f:
        f.write(json.dumps(config))
    with open(repo_path("hardware/pinmap.json"), "rb") as source:
        text = source.read()
    if pinmap is not None:
        text = pinmap(text)
    with open(folder.file("pinmap.json"), "wb") as f:
        f.write(text)


def boot(board, folder):
    esp32 = board.load_esp32()
    esp32.CONFIG_PATH = folder.file("config.json")
    esp32.PINMAP_PATH = folder.file("pinmap.json")
    esp32.JOURNAL_PATH = folder.file("outbox.jnl")
    esp32.BOOT_PATH = folder.file("boot.bin")
    esp32.FONTS_DIR = repo_path("firmware/fonts")
    board.run(esp32.main)
    return esp32


def test_offline_boot_takes_a_press_into_the_journal_and_shows_screens():
    with TempDir() as folder:
        prepare(folder)
        board = Board(script={5: [("press", BUTTON_4)], 9: [("release", BUTTON_4)]},
                      turns=60)
        esp32 = boot(board, folder)
        device = esp32.state["device"]
        assert board.feeds == 60, "the watchdog is fed every turn"
        assert device.panel.seq == 1 and device.queue_depth == 1
        assert device.boot == 1
        assert board.spi_frames and set(board.spi_frames) == {FRAME}
        assert len(board.spi_frames) >= 2, "the card, then the thank-you"
        assert board.duties[0] > 0 and board.duties[-1] == 0, "a beep, then silence"
        assert board.wifi_connects == ["UBND-HK"], "joining Wi-Fi did not wait for boot"
        esp32.state["journal"].close()
        kept = Journal(Files(), folder.file("outbox.jnl"))
        records = kept.first(10)
        kept.close()
        assert [(r[0], r[1], r[2]) for r in records] == [(1, 0, 4)]


def test_a_long_hold_opens_the_technician_screen_without_a_rating():
    with TempDir() as folder:
        prepare(folder)
        board = Board(script={5: [("press", BUTTON_1)], 400: [("release", BUTTON_1)]},
                      turns=420)
        esp32 = boot(board, folder)
        device = esp32.state["device"]
        assert device.panel.seq == 0 and device.queue_depth == 0
        assert device.panel.screen(device.clock.uptime_ms()) == rating.SERVICE
        esp32.state["journal"].close()


def test_a_bad_configuration_shows_the_error_screen_and_keeps_feeding_the_watchdog():
    with TempDir() as folder:
        config = dict(CONFIG)
        config["cooldown"] = 3
        prepare(folder, config=config)
        board = Board(turns=5)
        esp32 = boot(board, folder)
        assert board.spi_frames == [FRAME], "the configuration-error screen"
        assert "device" not in esp32.state and board.feeds == 5


def test_a_bad_pin_map_halts_before_driving_any_pin():
    with TempDir() as folder:
        prepare(folder, pinmap=lambda text: text.replace(b'"dc": 9', b'"dc": 4'))
        board = Board(turns=3)
        esp32 = boot(board, folder)
        assert board.spi_writes == 0 and board.pins == {}
        assert "device" not in esp32.state


class _Mounted:
    pass


class VfsFat(_Mounted):
    pass


class VfsLfs2(_Mounted):
    pass


def _with_root(root_type, action):
    """Run `action` with a stand-in `vfs` module whose / is a `root_type` volume."""
    import sys

    class StandInVfs:
        @staticmethod
        def mount():
            return [(root_type(), "/"), (VfsFat(), "/sd")]

    saved = sys.modules.get("vfs")
    sys.modules["vfs"] = StandInVfs
    try:
        return action()
    finally:
        if saved is None:
            del sys.modules["vfs"]
        else:
            sys.modules["vfs"] = saved


def test_a_fat_root_gets_the_mirrored_journal_and_littlefs_one_copy():
    esp32 = Board().load_esp32()
    assert _with_root(VfsFat, lambda: esp32.FlashFS().journal_copies) == 2
    assert _with_root(VfsLfs2, lambda: esp32.FlashFS().journal_copies) == 1
