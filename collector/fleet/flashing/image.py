"""Write a MicroPython image to a blank board (`--micropython IMAGE.bin`, `--erase`).

Through esptool's Python API (esptool 5: `esptool.cmds`), imported only when asked for: most
runs provision a board that already runs MicroPython and need none of it. The image is the
`.bin` of micropython.org/download for the board; its offset depends on the chip (0 on the
ESP32-S3 and C3, 0x1000 on the classic ESP32 and the S2, where a second-stage bootloader
precedes it in the same file). After writing, the chip is hard-reset; MicroPython's first
boot then formats its file system, which is why the caller waits longer for the REPL.
"""

from __future__ import annotations

from pathlib import Path

from collector.fleet.flashing.errors import FlashError

ESP_IMAGE_MAGIC = 0xE9
OFFSETS = {"ESP32": 0x1000, "ESP32-S2": 0x1000}  # every other chip: 0


def check_image_args(image: Path | None, erase: bool) -> None:
    """Refuse impossible requests before anything touches the board."""
    if erase and image is None:
        raise FlashError("--erase needs --micropython IMAGE.bin: an erased board has no "
                         "MicroPython left to provision")
    if image is None:
        return
    if not image.is_file():
        raise FlashError(f"no such image: {image}")
    with image.open("rb") as f:
        first = f.read(1)
    if first != bytes([ESP_IMAGE_MAGIC]):
        raise FlashError(f"not an ESP32 firmware image: {image} (expected MicroPython's .bin "
                         "for the board, from micropython.org/download)")


def write_image(port: str, image: Path, *, erase: bool, baud: int = 460800) -> str:
    """Erase (when asked) and write `image`; return the chip's name. Raises FlashError."""
    check_image_args(image, erase)
    try:
        from esptool.cmds import (attach_flash, detect_chip, erase_flash, reset_chip,
                                  run_stub, write_flash)
        from esptool.util import FatalError
    except ImportError:
        raise FlashError("writing a MicroPython image needs esptool 5 "
                         "(pip install 'esptool>=5')") from None
    import serial
    try:
        with detect_chip(port) as esp:
            esp = run_stub(esp)
            if baud != esp.ESP_ROM_BAUD:
                esp.change_baud(baud)
            attach_flash(esp)
            if erase:
                erase_flash(esp)
            chip = esp.CHIP_NAME
            write_flash(esp, [(OFFSETS.get(chip, 0), str(image))])
            reset_chip(esp, "hard-reset")
            return chip
    except (FatalError, serial.SerialException, OSError) as error:
        raise FlashError(f"esptool could not write the image: {error}") from None
