// A MicroPython board on a serial line, for the tests: MicroPython 1.27's WebAssembly port
// (npm @micropython/micropython-webassembly-pyscript, as run.mjs) speaking the board's REPL
// protocol on stdin/stdout. tests/serialdevice.py puts it on a pseudo-terminal with socat, so
// that pyserial, mpremote and `hailong flash` talk to it as to an ESP32 on a USB cable.
//
//   node tests/micropython/bridge.mjs --flash DIR [options]
//
//   --flash DIR          host folder that is the board's filesystem root ("/"): copied in at
//                        start and after each soft reset, written back after every executed
//                        command (the board's flash survives soft resets and restarts).
//   --baud N             model a UART at N baud, 8N1: N/10 bytes per second each way
//                        (default 115200; 0 = no throttle).
//   --raw-paste MODE     yes (default): raw-paste mode as MicroPython 1.27;
//                        refuse: answer b"R\x00" to b"\x05A\x01" and take the code in the
//                        standard raw REPL, with no new ">" (what docs/reference/repl.rst,
//                        mpremote and pyboard.py expect; pyexec.c would print ">" again, as
//                        it does here for an unknown raw-paste command b"\x05?\x01");
//                        legacy: as firmware older than 1.14, which did not know raw-paste:
//                        the bytes join the line and Ctrl-A resets the raw REPL, so the host
//                        reads b"raw REPL; CTRL-B to exit\r\n>".
//   --stall-after BYTES  after receiving BYTES bytes from the host, stop answering: every
//                        later byte is dropped and nothing more is sent (a hung device).
//   --fs-limit BYTES     the filesystem holds at most BYTES bytes of file data; a write
//                        beyond raises OSError(28) (ENOSPC), and os.statvfs("/") reports
//                        the capacity and free space in 4096-byte blocks.
//   --heap-kb N          MicroPython heap (default 1024).
//   --boot               run boot.py, and main.py in the friendly REPL, after each reset, as
//                        a board does (off by default: Ctrl-C cannot stop code here).
// The same options may also come as a JSON list in the environment variable
// HAILONG_BRIDGE_ARGS (socat's EXEC address splits its command line on spaces and treats
// ':' and ',' specially, so paths are safer there).
// stderr gets one line per event, "bridge: ready" once the board is listening.
//
// What the board does, as MicroPython's shared/runtime/pyexec.c on an ESP32:
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
//   soft reset: "MPY: soft reboot\r\n", a fresh interpreter on the flash as written back,
//     then the banner (friendly) or "raw REPL; CTRL-B to exit\r\n>" (raw). SystemExit from
//     executed code soft-resets too, as on the board.
//   file errors carry the board's errno numbers (ENOENT 2, EEXIST 17, ENOTDIR 20, EISDIR 21,
//     EINVAL 22, ENOSPC 28 ...), not Emscripten's (ENOENT 44): "/" is an errno_vfs.ErrnoVfs
//     over the in-memory folder /flash, so OSError args and tracebacks say what a board says.
//   text output: the board turns every "\n" of print() into "\r\n"; this port sends "\n", so
//     the bridge adds the "\r" to each lone "\n" it sends (also in sys.stdout.buffer writes,
//     which a board leaves raw: binary output through stdout is not faithful here).
// Known differences from a board: Ctrl-C does not interrupt running code (the port runs a
// command to its end, synchronously); sys.implementation and the banner are the port's own
// (version 1.27.0, _mpy 774 = bytecode v6.3 without native arch, _machine 'JS with
// Emscripten'); there is no machine, network or os.uname; code sent through raw-paste is
// decoded as UTF-8 before compiling (invalid UTF-8 bytes inside literals become U+FFFD).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = "@micropython/micropython-webassembly-pyscript";
const ENTRY = path.join(HERE, "node_modules", PACKAGE, "micropython.mjs");
const ERRNO_VFS = path.join(HERE, "errno_vfs.py");

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
const FLASH = "/flash"; // where the board's filesystem lives in the port's in-memory FS
const SUPPORT = "/_bridge"; // Python modules the bridge loads, outside the board's "/"
const BLOCK = 4096; // littlefs block size on the ESP32, for statvfs

function log(message) {
  process.stderr.write("bridge: " + message + "\n");
}

function die(message) {
  log(message);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    flash: null, baud: 115200, rawPaste: "yes", stallAfter: null, fsLimit: null,
    heapKb: 1024, boot: false,
  };
  const count = (name, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) die(`${name} needs a whole number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--flash") opts.flash = argv[++i];
    else if (a === "--baud") opts.baud = count(a, argv[++i], 0);
    else if (a === "--raw-paste") opts.rawPaste = argv[++i];
    else if (a === "--stall-after") opts.stallAfter = count(a, argv[++i], 0);
    else if (a === "--fs-limit") opts.fsLimit = count(a, argv[++i], 1);
    else if (a === "--heap-kb") opts.heapKb = count(a, argv[++i], 64);
    else if (a === "--boot") opts.boot = true;
    else die(`unknown option ${a}`);
  }
  if (!opts.flash) die("--flash DIR is required");
  if (!["yes", "refuse", "legacy"].includes(opts.rawPaste)) {
    die("--raw-paste takes yes, refuse or legacy");
  }
  opts.flash = path.resolve(opts.flash);
  fs.mkdirSync(opts.flash, { recursive: true });
  return opts;
}

// One direction of the UART: bytes queue up and come out at the line rate (a byte takes
// 10 bit times, 8N1). `clock` is when the last byte handed over finished crossing the line;
// a byte pushed onto an idle line starts crossing when it arrives. `deliver(bytes)` returns
// null, or {consumed, until} when it took only `consumed` bytes and wants the rest after the
// Promise `until` (a soft reset): the rest waits, as in a board's receive buffer, and comes
// out at once when the board is ready again.
class Line {
  constructor(bytesPerSecond, deliver) {
    this.msPerByte = bytesPerSecond > 0 ? 1000 / bytesPerSecond : 0;
    this.deliver = deliver;
    this.chunks = [];
    this.offset = 0; // into chunks[0]
    this.length = 0;
    this.clock = 0;
    this.timer = null;
    this.blocked = false;
    this.stopped = false;
  }

  push(buf) {
    if (this.stopped || buf.length === 0) return;
    const now = performance.now();
    if (this.length === 0 && this.clock < now) this.clock = now;
    this.chunks.push(buf);
    this.length += buf.length;
    this.schedule();
  }

  schedule() {
    if (this.timer || this.blocked || this.stopped || this.length === 0) return;
    const wait = this.msPerByte ? Math.max(1, this.clock + this.msPerByte - performance.now()) : 0;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, wait);
  }

  pump() {
    if (this.blocked || this.stopped) return;
    let n = this.length;
    if (this.msPerByte) {
      n = Math.min(n, Math.floor((performance.now() - this.clock) / this.msPerByte));
    }
    while (n > 0) {
      const head = this.chunks[0];
      const take = Math.min(n, head.length - this.offset);
      const held = this.deliver(head.subarray(this.offset, this.offset + take));
      if (this.stopped) return;
      // Bytes the consumer did not take stay queued, deliverable as soon as it is ready.
      const used = held ? held.consumed : take;
      this.offset += used;
      if (this.offset === head.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      this.length -= used;
      this.clock += used * this.msPerByte;
      n -= used;
      if (held) {
        this.blocked = true;
        held.until.then(() => {
          this.blocked = false;
          this.schedule();
        }, (error) => die("board failed: " + (error.stack || error)));
        return;
      }
    }
    this.schedule();
  }

  stop() {
    this.stopped = true;
    this.chunks = [];
    this.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

// The board's filesystem: the host folder copied into the port's /flash and written back.
class Flash {
  constructor(root, limit) {
    this.root = root;
    this.limit = limit;
    this.snapshot = new Map(); // "a/b.py" -> Buffer (file) or null (folder): what the host has
  }

  // Copy the host folder into a fresh interpreter's FS.
  load(FS) {
    FS.mkdirTree(FLASH);
    this.snapshot = new Map();
    const walk = (rel) => {
      const host = path.join(this.root, rel);
      for (const entry of fs.readdirSync(host, { withFileTypes: true })) {
        const child = rel ? rel + "/" + entry.name : entry.name;
        if (entry.isDirectory()) {
          FS.mkdir(FLASH + "/" + child);
          this.snapshot.set(child, null);
          walk(child);
        } else if (entry.isFile()) {
          const data = fs.readFileSync(path.join(host, entry.name));
          FS.writeFile(FLASH + "/" + child, data);
          this.snapshot.set(child, data);
        }
      }
    };
    walk("");
  }

  // The files and folders of /flash, parents before children.
  static entries(FS) {
    const found = new Map();
    const walk = (rel) => {
      for (const name of FS.readdir(FLASH + (rel ? "/" + rel : ""))) {
        if (name === "." || name === "..") continue;
        const child = rel ? rel + "/" + name : name;
        const node = FS.lookupPath(FLASH + "/" + child).node;
        if (FS.isDir(node.mode)) {
          found.set(child, null);
          walk(child);
        } else if (FS.isFile(node.mode)) {
          const contents = node.contents || new Uint8Array(0);
          found.set(child, contents.subarray(0, node.usedBytes));
        }
      }
    };
    walk("");
    return found;
  }

  // Bytes of file data in /flash (what --fs-limit counts).
  static used(FS) {
    let total = 0;
    for (const data of Flash.entries(FS).values()) if (data) total += data.length;
    return total;
  }

  // Write back to the host what changed since the last load or sync.
  sync(FS) {
    const now = Flash.entries(FS);
    const gone = [...this.snapshot.keys()].filter((rel) => {
      const was = this.snapshot.get(rel);
      return !now.has(rel) || (now.get(rel) === null) !== (was === null);
    });
    // Children before parents.
    for (const rel of gone.reverse()) {
      fs.rmSync(path.join(this.root, rel), { recursive: true, force: true });
      this.snapshot.delete(rel);
    }
    for (const [rel, data] of now) {
      const was = this.snapshot.get(rel);
      const host = path.join(this.root, rel);
      if (data === null) {
        if (was !== null) fs.mkdirSync(host, { recursive: true });
      } else if (!was || !Buffer.from(data.buffer, data.byteOffset, data.length).equals(was)) {
        const copy = Buffer.from(data);
        fs.writeFileSync(host, copy);
        this.snapshot.set(rel, copy);
        continue;
      }
      this.snapshot.set(rel, data === null ? null : was);
    }
  }

  // Make writes past the limit fail with the board's ENOSPC. The port's FS is Emscripten's
  // MEMFS; every regular file shares one table of stream operations.
  guard(FS) {
    if (!this.limit) return;
    FS.mkdirTree(SUPPORT);
    const probe = SUPPORT + "/probe";
    FS.writeFile(probe, "");
    const ops = FS.lookupPath(probe).node.stream_ops;
    FS.unlink(probe);
    const write = ops.write;
    const limit = this.limit;
    ops.write = function (stream, buffer, offset, length, position) {
      if (FS.getPath(stream.node).startsWith(FLASH + "/")) {
        const grow = position + length - stream.node.usedBytes;
        // 28 is ENOSPC in the board's numbering; the error goes straight back to the C code
        // (the port's own numbers are WASI's, where 28 would be EINVAL).
        if (grow > 0 && Flash.used(FS) + grow > limit) throw new FS.ErrnoError(28);
      }
      return write.apply(this, arguments);
    };
  }
}

// Runs once in each new interpreter: "/" becomes the flash, with the board's errno numbers.
// A module of its own under SUPPORT, so that its frames in tracebacks are recognised and
// hidden (see hideBridgeFrames); imported and dropped, so the REPL's globals and
// sys.modules start as on a board.
const SETUP_MODULE = `"""The fake board's "/": ${FLASH}, behaving as littlefs on an ESP32."""

import os
import sys
import vfs

import _bridge_board
import errno_vfs


class FlashVfs(errno_vfs.ErrnoVfs):
    # littlefs refuses to open a folder (EISDIR); POSIX, and so the port, opens it.
    def open(self, path, mode):
        try:
            folder = self.stat(path)[0] & 0x4000
        except OSError:
            folder = False
        if folder:
            raise OSError(21)
        return errno_vfs.ErrnoVfs.open(self, path, mode)

    # littlefs lists (name, type, inode 0, size); the port's VfsPosix leaves the size out.
    def ilistdir(self, path):
        base = path.rstrip("/") + "/"
        for entry in errno_vfs.ErrnoVfs.ilistdir(self, path):
            size = 0 if entry[1] == 0x4000 else self.stat(base + entry[0])[6]
            yield (entry[0], entry[1], 0, size)

    # With --fs-limit, the capacity and free space in littlefs's 4096-byte blocks.
    def statvfs(self, path):
        limit = _bridge_board.limit
        if not limit:
            return errno_vfs.ErrnoVfs.statvfs(self, path)
        free = max(0, limit - _bridge_board.used()) // ${BLOCK}
        return (${BLOCK}, ${BLOCK}, limit // ${BLOCK}, free, free, 0, 0, 0, 0, 255)


def mount():
    vfs.umount("/")
    vfs.mount(FlashVfs(${JSON.stringify(FLASH)}), "/")
    os.chdir("/")


# As pyexec_file_if_exists() after a reset: in __main__'s globals, a traceback if it fails.
def run_file(name):
    try:
        os.stat(name)
    except OSError:
        return
    import __main__
    try:
        execfile(name, __main__.__dict__)
    except SystemExit:
        pass
    except BaseException as e:
        sys.print_exception(e)
`;

const SETUP = `
import sys
sys.path.insert(0, ${JSON.stringify(SUPPORT)})
import bridge_setup
bridge_setup.mount()
sys.path.pop(0)
del bridge_setup, sys
`;
// After the bridge has its handle on bridge_setup: no trace left for the board's programs.
const FORGET = `
import sys
for _bridge_name in ("bridge_setup", "errno_vfs", "_bridge_board"):
    sys.modules.pop(_bridge_name, None)
del sys, _bridge_name
`;

// Traceback lines of the bridge's own Python (the errno VFS): a board's traceback has none.
const BRIDGE_FRAME = new RegExp(`  File "${SUPPORT}/[^"\\r\\n]*", line \\d+, in \\S+\\r?\\n`, "g");

function hideBridgeFrames(buf) {
  const text = buf.toString("latin1");
  const kept = text.replace(BRIDGE_FRAME, "");
  return kept.length === text.length ? buf : Buffer.from(kept, "latin1");
}

// One interpreter: the board between two resets.
class Interpreter {
  static async create(opts, flash) {
    const { loadMicroPython } = await import(ENTRY);
    const self = new Interpreter();
    self.output = [];
    const collect = (bytes) => {
      for (const b of bytes) self.output.push(b);
    };
    self.mp = await loadMicroPython({
      heapsize: opts.heapKb * 1024,
      linebuffer: false,
      stdout: collect,
      stderr: collect,
    });
    const FS = self.mp.FS;
    FS.mkdirTree(SUPPORT);
    FS.writeFile(SUPPORT + "/errno_vfs.py", fs.readFileSync(ERRNO_VFS));
    FS.writeFile(SUPPORT + "/bridge_setup.py", SETUP_MODULE);
    flash.load(FS);
    flash.guard(FS);
    self.mp.registerJsModule("_bridge_board", {
      limit: flash.limit || 0,
      used: () => Flash.used(FS),
    });
    self.mp.runPython(SETUP);
    self.support = self.mp.pyimport("bridge_setup");
    self.mp.runPython(FORGET);
    self.take();
    return self;
  }

  // What the interpreter printed since the last call.
  take() {
    const out = hideBridgeFrames(Buffer.from(this.output));
    this.output = [];
    return out;
  }

  // Feed one byte to the port's own (event-driven) REPL.
  replChar(c) {
    const ret = this.mp.replProcessChar(c);
    return { ret, out: this.take() };
  }

  // Execute code as the raw REPL does: in __main__'s globals, named "<stdin>" in tracebacks.
  // Returns the output, the traceback text (or null) and whether SystemExit asked to reset.
  exec(code) {
    let error = null;
    let exit = false;
    try {
      this.mp.runPython(Buffer.from(code).toString("utf8"));
    } catch (e) {
      if (e.name !== "PythonError") {
        log("the interpreter failed: " + (e.stack || e));
        error = Buffer.from("Traceback (most recent call last):\nRuntimeError: bridge: " +
                            e.message + "\n");
      } else if (e.type === "SystemExit") {
        exit = true;
      } else {
        error = hideBridgeFrames(Buffer.from(e.message, "utf8"));
      }
    }
    return { out: this.take(), error, exit };
  }

  // Run boot.py (or main.py) if present, as a board does after a reset; its output.
  runFile(name) {
    try {
      this.support.run_file(name);
    } catch (e) {
      log(`${name} failed: ` + (e.stack || e));
    }
    return this.take();
  }
}

// The serial side: the REPL state machine of pyexec.c, output throttled, flash written back.
class Board {
  constructor(opts) {
    this.opts = opts;
    this.flash = new Flash(opts.flash, opts.fsLimit);
    this.mode = "friendly"; // friendly | raw | paste
    this.line = []; // the raw REPL's line buffer
    this.paste = []; // code received in raw-paste mode
    this.windowLeft = 0;
    this.lastSent = 0; // last byte sent, to add "\r" before a lone "\n" across chunks
    this.received = 0; // bytes from the host
    this.sent = 0; // bytes to the host
    this.commands = { raw: 0, paste: 0, resets: 0 };
    this.stalled = false;
    const rate = opts.baud / 10; // 8N1: start bit, 8 data bits, stop bit
    this.tx = new Line(rate, (chunk) => {
      process.stdout.write(chunk);
      return null;
    });
    this.rx = new Line(rate, (chunk) => this.receive(chunk));
  }

  send(text) {
    const buf = typeof text === "string" ? Buffer.from(text, "latin1") : text;
    if (buf.length) {
      this.lastSent = buf[buf.length - 1];
      this.sent += buf.length;
      this.tx.push(Buffer.from(buf));
    }
  }

  // Program output: a lone "\n" becomes "\r\n", as the board's stdout does.
  sendText(buf) {
    const out = [];
    let prev = this.lastSent;
    for (const b of buf) {
      if (b === LF && prev !== CR) out.push(CR);
      out.push(b);
      prev = b;
    }
    this.send(Buffer.from(out));
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

  // Bytes from the host, at the line rate. Returns null, or {consumed, until} when a soft
  // reset must finish before the rest is read.
  receive(chunk) {
    for (let i = 0; i < chunk.length; i++) {
      if (this.stalled) return null;
      if (this.opts.stallAfter !== null && this.received >= this.opts.stallAfter) {
        this.stall();
        return null;
      }
      this.received++;
      const until = this.byte(chunk[i]);
      if (until) return { consumed: i + 1, until };
    }
    return null;
  }

  stall() {
    this.stalled = true;
    this.sync();
    this.tx.stop();
    this.rx.stop();
    log(`stalled after ${this.received} bytes: no longer answering`);
  }

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

async function main() {
  const extra = process.env.HAILONG_BRIDGE_ARGS ? JSON.parse(process.env.HAILONG_BRIDGE_ARGS) : [];
  const opts = parseArgs([...process.argv.slice(2), ...extra]);
  if (!fs.existsSync(ENTRY)) {
    die(`${PACKAGE} is not installed; run: npm ci --prefix tests/micropython`);
  }
  const board = new Board(opts);
  await board.start();

  // A host that writes faster than the line carries waits, as on a UART: stop reading while
  // a few kilobytes are queued.
  const input = process.stdin;
  input.on("data", (data) => {
    if (board.stalled) return;
    board.rx.push(data);
    if (board.rx.length > 8192) {
      input.pause();
      const resume = setInterval(() => {
        if (board.rx.length < 2048 || board.stalled) {
          clearInterval(resume);
          input.resume();
        }
      }, 5);
    }
  });
  const finish = () => {
    board.sync();
    const { raw, paste, resets } = board.commands;
    log(`exit: ${raw} raw and ${paste} raw-paste commands, ${resets} soft resets, ` +
        `${board.received} bytes in, ${board.sent} out`);
    process.exit(0);
  };
  input.on("end", finish);
  process.on("SIGTERM", finish);
  process.on("SIGINT", finish);
  process.stdout.on("error", finish);
  const line = opts.baud ? opts.baud + " baud" : "no throttle";
  log(`ready (pid ${process.pid}): flash ${opts.flash}, ${line}, ` +
      `raw-paste ${opts.rawPaste}` +
      (opts.stallAfter !== null ? `, stall after ${opts.stallAfter} bytes` : "") +
      (opts.fsLimit ? `, fs limit ${opts.fsLimit} bytes` : ""));
}

main().catch((error) => die("failed: " + (error.stack || error)));
