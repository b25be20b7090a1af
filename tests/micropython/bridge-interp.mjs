// One MicroPython interpreter: the fake board between two resets. It loads MicroPython 1.27's
// WebAssembly port (npm @micropython/micropython-webassembly-pyscript, as run.mjs does) with
// the flash mounted as "/", and offers the three things the REPL needs: feed a byte to the
// port's own friendly REPL, execute a raw-REPL command, run boot.py or main.py.
//
// Constraints: the port runs each command to its end, synchronously (Ctrl-C cannot interrupt
// it); its output is collected and handed over after each call, with the frames of the
// bridge's own Python (bridge-flash.mjs's support modules) cut from tracebacks, since a
// board's traceback has none. sys.implementation and the banner are the port's own.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { SUPPORT } from "./bridge-flash.mjs";
import { log } from "./bridge-log.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE = "@micropython/micropython-webassembly-pyscript";
const ENTRY = path.join(HERE, "node_modules", PACKAGE, "micropython.mjs");

// Whether the port is installed (npm ci --prefix tests/micropython).
export function portInstalled() {
  return fs.existsSync(ENTRY);
}

// Traceback lines of the bridge's own Python (the errno VFS): a board's traceback has none.
const BRIDGE_FRAME = new RegExp(`  File "${SUPPORT}/[^"\\r\\n]*", line \\d+, in \\S+\\r?\\n`, "g");

function hideBridgeFrames(buf) {
  const text = buf.toString("latin1");
  const kept = text.replace(BRIDGE_FRAME, "");
  return kept.length === text.length ? buf : Buffer.from(kept, "latin1");
}

export class Interpreter {
  // A fresh interpreter with `flash` (a Flash) as its "/"; heap from opts.heapKb.
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
    self.support = flash.mount(self.mp);
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
  // The code is decoded as UTF-8 before compiling: invalid UTF-8 inside literals becomes
  // U+FFFD, where a board would keep the bytes.
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
