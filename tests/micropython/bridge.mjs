// A MicroPython board on a serial line, for the tests: MicroPython 1.27's WebAssembly port
// (npm @micropython/micropython-webassembly-pyscript, as run.mjs) speaking the board's REPL
// protocol on stdin/stdout. tests/serialdevice.py puts it on a pseudo-terminal with socat, so
// that pyserial, mpremote and `hailong flash` talk to it as to an ESP32 on a USB cable.
// This file is the entry: options, wiring, life cycle. The parts, one job each:
//   bridge-line.mjs    the serial line: baud model, byte I/O, "\n" -> "\r\n", --stall-after
//   bridge-repl.mjs    friendly/raw REPL and raw-paste state machine, soft reset, --boot
//   bridge-interp.mjs  one interpreter of the port (between two resets)
//   bridge-flash.mjs   the persisted flash: host folder in and out, errno VFS, --fs-limit
//   bridge-log.mjs     "bridge: ..." lines on stderr
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
// stderr gets one line per event, "bridge: ready" once the board is listening; on exit
// (stdin closed, SIGTERM, SIGINT) the flash is written back and "bridge: exit: ..." counts
// the commands, soft resets and bytes each way.
//
// Known differences from a board: Ctrl-C does not interrupt running code (the port runs a
// command to its end, synchronously); sys.implementation and the banner are the port's own
// (version 1.27.0, _mpy 774 = bytecode v6.3 without native arch, _machine 'JS with
// Emscripten'); there is no machine, network or os.uname; code sent through raw-paste is
// decoded as UTF-8 before compiling (invalid UTF-8 bytes inside literals become U+FFFD);
// binary output through sys.stdout.buffer gets "\r" before each lone "\n".

import fs from "node:fs";
import path from "node:path";

import { Flash } from "./bridge-flash.mjs";
import { PACKAGE, portInstalled } from "./bridge-interp.mjs";
import { Serial } from "./bridge-line.mjs";
import { log, die } from "./bridge-log.mjs";
import { Board } from "./bridge-repl.mjs";

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

async function main() {
  const extra = process.env.HAILONG_BRIDGE_ARGS ? JSON.parse(process.env.HAILONG_BRIDGE_ARGS) : [];
  const opts = parseArgs([...process.argv.slice(2), ...extra]);
  if (!portInstalled()) {
    die(`${PACKAGE} is not installed; run: npm ci --prefix tests/micropython`);
  }
  const serial = new Serial(opts.baud, opts.stallAfter, (chunk) => process.stdout.write(chunk));
  const board = new Board(opts, serial, new Flash(opts.flash, opts.fsLimit));
  serial.onByte = (c) => board.byte(c);
  serial.onStall = () => board.sync();
  await board.start();

  serial.listen(process.stdin);
  const finish = () => {
    board.sync();
    const { raw, paste, resets } = board.commands;
    log(`exit: ${raw} raw and ${paste} raw-paste commands, ${resets} soft resets, ` +
        `${serial.received} bytes in, ${serial.sent} out`);
    process.exit(0);
  };
  process.stdin.on("end", finish);
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
