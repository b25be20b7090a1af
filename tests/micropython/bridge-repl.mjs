// The fake board's REPL: the state machine of MicroPython's shared/runtime/pyexec.c on an
// ESP32, over a Serial (bridge-line.mjs), an Interpreter (bridge-interp.mjs) and the Flash
// (bridge-flash.mjs), which it writes back after every executed command.
//
//   friendly REPL: the port's own (banner, ">>> ", line editing, paste mode Ctrl-E);
//     Ctrl-A enters the raw REPL, Ctrl-D on an empty line soft-resets.
//   raw REPL (handled here, not by the port, whose raw-paste reader blocks on stdin):
//     "raw REPL; CTRL-B to exit\r\n>"; code bytes, then Ctrl-D -> "OK", the output, "\x04",
//     the traceback if any, "\x04", ">". Ctrl-D on an empty line -> "OK\r\n" and a soft
//     reset; Ctrl-C clears the line; Ctrl-A resets the raw REPL; Ctrl-B back to friendly.
//   raw-paste (docs/reference/repl.rst, "Raw mode and raw-paste mode"): b"\x05A\x01" ->
//     b"R\x01", the window-size increment (128, half of MicroPython's 256-byte stdin buffer)
//     as 2 bytes little-endian and b"\x01" (a second window free at once); one more b"\x01"
//     each time 128 bytes have been consumed; the host's b"\x04" ends the code, answered by
//     b"\x04"; then the output as in the raw REPL but without "OK".
//     --raw-paste refuse: b"R\x00" and the code comes in the standard raw REPL, with no new
//     ">" (what repl.rst, mpremote and pyboard.py expect); --raw-paste legacy (firmware older
//     than 1.14): the request joins the line and Ctrl-A resets the raw REPL.
//   soft reset: "MPY: soft reboot\r\n", a fresh interpreter on the flash as written back,
//     then the banner (friendly) or "raw REPL; CTRL-B to exit\r\n>" (raw). SystemExit from
//     executed code soft-resets too, as on the board.
//   --boot: boot.py, and main.py in the friendly REPL, run after each reset.
//
// Constraints: a handler that soft-resets returns the reset's Promise, and the line holds the
// host's later bytes until it settles (they wait as in the board's receive buffer).

import { Interpreter } from "./bridge-interp.mjs";
import { log } from "./bridge-log.mjs";

const CTRL_A = 0x01; // raw REPL: enter / reset
const CTRL_B = 0x02; // back to the friendly REPL
const CTRL_C = 0x03; // clear the raw line; in raw-paste: abort with KeyboardInterrupt
const CTRL_D = 0x04; // end of code: execute; on an empty line: soft reset
const CTRL_E = 0x05; // first byte of the raw-paste request b"\x05A\x01"
const CR = 0x0d;
const LF = 0x0a;

const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
// What the port prints when one Ctrl-A at the friendly prompt takes it into the raw REPL.
const ENTERED_RAW = "\r\n" + RAW_BANNER + ">";
// MICROPY_REPL_STDIN_BUFFER_MAX is 256 on the ESP32 port; the flow-control window is half.
const PASTE_WINDOW = 128;
const FORCED_EXIT = 0x100; // PYEXEC_FORCED_EXIT: the REPL asks for a soft reset

export class Board {
  // opts: heapKb, rawPaste ("yes" | "refuse" | "legacy"), boot (see bridge.mjs).
  constructor(opts, serial, flash) {
    this.opts = opts;
    this.serial = serial;
    this.flash = flash;
    this.mode = "friendly"; // friendly | raw | paste
    this.line = []; // the raw REPL's line buffer
    this.paste = []; // code received in raw-paste mode
    this.windowLeft = 0;
    this.commands = { raw: 0, paste: 0, resets: 0 };
  }

  send(text) {
    this.serial.send(text);
  }

  sendText(buf) {
    this.serial.sendText(buf);
  }

  async start() {
    this.interp = await Interpreter.create(this.opts, this.flash);
    this.bootFiles();
    this.send(this.banner());
  }

  // The friendly banner and prompt of a fresh interpreter (the port starts it with "\r\n",
  // a board after a reset does not).
  banner() {
    this.interp.mp.replInit();
    const out = this.interp.take();
    return out.subarray(0, 2).toString() === "\r\n" ? out.subarray(2) : out;
  }

  bootFiles() {
    if (!this.opts.boot) return;
    this.sendText(this.interp.runFile("boot.py"));
    if (this.mode === "friendly") this.sendText(this.interp.runFile("main.py"));
    this.sync();
  }

  // Write the flash back to the host folder; a failure is logged, the board goes on.
  sync() {
    try {
      this.flash.sync(this.interp.mp.FS);
    } catch (e) {
      log("could not write the flash back: " + (e.stack || e));
    }
  }

  async softReset() {
    this.sync();
    this.commands.resets++;
    this.send("MPY: soft reboot\r\n");
    this.interp = await Interpreter.create(this.opts, this.flash);
    log("soft reboot");
    this.bootFiles();
    if (this.mode === "friendly") {
      this.send(this.banner());
    } else {
      // Keep the port's REPL in step (raw), then show the raw prompt.
      this.interp.mp.replInit();
      this.interp.replChar(CTRL_A);
      this.mode = "raw";
      this.line = [];
      this.send(RAW_BANNER + ">");
    }
  }

  // One byte from the host (Serial.onByte): null, or the Promise of a soft reset.
  byte(c) {
    if (this.mode === "paste") return this.pasteByte(c);
    if (this.mode === "raw") return this.rawByte(c);
    return this.friendlyByte(c);
  }

  friendlyByte(c) {
    const { ret, out } = this.interp.replChar(c);
    if (c === CTRL_A && out.toString("latin1") === ENTERED_RAW) {
      this.mode = "raw";
      this.line = [];
      this.send(out);
      return null;
    }
    this.sendText(out);
    if (ret & FORCED_EXIT) return this.softReset();
    if (c === CR || c === LF || c === CTRL_D) this.sync();
    return null;
  }

  rawByte(c) {
    if (c === CTRL_A) {
      const line = this.line;
      this.line = [];
      if (line.length === 2 && line[0] === CTRL_E && this.opts.rawPaste !== "legacy") {
        if (line[1] === 0x41 /* A */ && this.opts.rawPaste === "yes") {
          // Raw-paste accepted: window-size increment, little-endian, and one window free
          // besides the implicit first one.
          this.mode = "paste";
          this.paste = [];
          this.windowLeft = PASTE_WINDOW;
          this.send(Buffer.from([0x52, 0x01, PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8, 0x01]));
        } else if (line[1] === 0x41) {
          // Refused: per repl.rst the host now sends the code in the standard raw REPL.
          this.send("R\x00");
        } else {
          // An unknown raw-paste command: pyexec.c refuses it and shows the prompt again.
          this.send("R\x00>");
        }
        return null;
      }
      this.send(RAW_BANNER + ">");
      return null;
    }
    if (c === CTRL_B) {
      this.line = [];
      this.mode = "friendly";
      // The port's REPL is in raw mode too: Ctrl-B gives the banner and ">>> ".
      this.sendText(this.interp.replChar(CTRL_B).out);
      return null;
    }
    if (c === CTRL_C) {
      this.line = [];
      return null;
    }
    if (c === CTRL_D) {
      const code = this.line;
      this.line = [];
      this.send("OK");
      if (code.length === 0) {
        this.send("\r\n");
        return this.softReset();
      }
      this.commands.raw++;
      return this.execute(code);
    }
    this.line.push(c);
    return null;
  }

  pasteByte(c) {
    if (c === CTRL_C || c === CTRL_D) {
      this.send("\x04"); // end of data acknowledged
      this.mode = "raw";
      const code = this.paste;
      this.paste = [];
      this.commands.paste++;
      if (c === CTRL_C) {
        this.send("\x04KeyboardInterrupt: \r\n\x04>");
        return null;
      }
      return this.execute(code);
    }
    this.paste.push(c);
    if (--this.windowLeft === 0) {
      this.send("\x01"); // another window of PASTE_WINDOW bytes may come
      this.windowLeft = PASTE_WINDOW;
    }
    return null;
  }

  // Output, "\x04", traceback, "\x04", then ">" — or a soft reset after SystemExit.
  execute(code) {
    const { out, error, exit } = this.interp.exec(code);
    this.sendText(out);
    this.send("\x04");
    if (error) this.sendText(error);
    this.send("\x04");
    this.sync();
    if (exit) return this.softReset();
    this.send(">");
    return null;
  }
}
