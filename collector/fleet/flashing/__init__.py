"""`hailong flash`: provision a counter device over its USB serial port in one command.

Layers, each importable and testable alone (none imports the command line, which is
collector/cli/flash.py: `add_flash_command(subparsers, device_config_factory)`):

- `serialport`  opens the port with pyserial and names what went wrong (no such port, busy);
- `rawrepl`     the MicroPython raw REPL over any pyserial-like object: enter, raw-paste with
                its flow control (chunked raw-REPL writes when refused), exec, eval, reset;
- `agent.py`    the few functions sent to the device (hash, write, rename), as MicroPython text;
- `bundle`      the files the device should hold, built on the host (mpy-cross, fonts, pin map,
                the device's /config.json), each with its SHA-256;
- `sync`        compares with the device's hashes and uploads what differs, compressed;
- `provision`   the whole run: dry run, upload, reset, and the wait for the device to go online
                (`online`, paho-mqtt); `progress` draws the bars on stderr;
- `image`       optional MicroPython image and erase through esptool's Python API;

Every error a technician can meet is a `FlashError` subclass with a one-line message.
"""
