"""Pin rules of the chips the counter device is built on, for kiosk.pins.check_pinmap.

A table, not code, so a board of another chip is a new entry. Facts from the chips' datasheets
and module pinouts: which GPIOs exist, which are wired to flash or PSRAM inside the module,
which are strapping pins sampled at reset, which have no output driver, and which carry the
REPL that technicians need.

Pure data, MicroPython compatible.
"""


def _span(first, last):
    return tuple(range(first, last + 1))


# Per-chip rules. gpio: pins that exist; flash: wired to the SPI flash inside the module;
# psram: extra pins taken by each PSRAM mode; strapping: sampled at reset; input_only: no
# output driver and no pull-up; console: the REPL's pins, kept free for the technician.
CHIPS = {
    "esp32s3": {
        "gpio": _span(0, 21) + _span(26, 48),
        "flash": _span(26, 32),
        # Quad PSRAM shares the flash pins (GPIO 26 is its CS); octal PSRAM (N16R8, N8R8
        # modules) adds the four extra data lines and DQS on GPIO 33-37.
        "psram": {"none": (), "quad": (), "octal": _span(33, 37)},
        "strapping": (0, 3, 45, 46),
        "input_only": (),
        "console": (19, 20),
        "console_name": "native USB D-/D+ (the REPL)",
        "spi_ids": (1, 2),  # machine.SPI ids: 1 = SPI2 (FSPI), 2 = SPI3
    },
    "esp32": {
        "gpio": _span(0, 19) + _span(21, 23) + _span(25, 27) + _span(32, 39),
        "flash": _span(6, 11),
        # WROVER modules wire their quad PSRAM to GPIO 16 (CS) and 17 (clock).
        "psram": {"none": (), "quad": (16, 17)},
        "strapping": (0, 2, 5, 12, 15),
        "input_only": _span(34, 39),
        "console": (1, 3),
        "console_name": "UART0 TX/RX (the REPL)",
        "spi_ids": (1, 2),  # machine.SPI ids: 1 = HSPI, 2 = VSPI
    },
}
