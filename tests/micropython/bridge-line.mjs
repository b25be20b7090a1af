// The serial line between the host and the fake board: a UART at a baud rate, 8N1, modelled
// on the bridge's stdin (host -> board) and stdout (board -> host). It knows bytes, not the
// REPL: the board hands it what to send and gets back, byte by byte and at the line rate,
// what the host sent.
//
// Constraints: nothing but the board's bytes may reach stdout (the log goes to stderr); a byte
// takes 10 bit times each way (start bit, 8 data bits, stop bit), so N baud is N/10 bytes per
// second and 0 means no throttle; bytes the board cannot take yet (during a soft reset) wait,
// as in a board's receive buffer, and none is lost. --stall-after lives here: after that many
// bytes from the host the line goes dead both ways, as a hung device's.
//
// Text output: the board turns every "\n" of print() into "\r\n"; the WebAssembly port sends
// "\n", so sendText() adds the "\r" to each lone "\n" (also in sys.stdout.buffer writes,
// which a board leaves raw: binary output through stdout is not faithful here).

import { log, die } from "./bridge-log.mjs";

const CR = 0x0d;
const LF = 0x0a;
// The host is made to wait (stdin paused) above HIGH bytes queued, until fewer than LOW.
const HIGH_WATER = 8192;
const LOW_WATER = 2048;

// One direction of the UART: bytes queue up and come out at the line rate (a byte takes
// 10 bit times, 8N1). `clock` is when the last byte handed over finished crossing the line;
// a byte pushed onto an idle line starts crossing when it arrives. `deliver(bytes)` returns
// null, or {consumed, until} when it took only `consumed` bytes and wants the rest after the
// Promise `until` (a soft reset): the rest waits, as in a board's receive buffer, and comes
// out at once when the board is ready again.
export class Line {
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

// Both directions, the byte counters and --stall-after. `write(chunk)` puts bytes on the wire
// (stdout). The board that uses the line sets `onByte(c)`: it returns null, or a Promise when
// the bytes after `c` must wait for it (a soft reset); and `onStall()`: called once when the
// line goes dead, before it stops (the board writes its flash back).
export class Serial {
  constructor(baud, stallAfter, write) {
    this.stallAfter = stallAfter; // null: never
    this.onByte = () => null;
    this.onStall = () => {};
    this.lastSent = 0; // last byte sent, to add "\r" before a lone "\n" across chunks
    this.received = 0; // bytes from the host
    this.sent = 0; // bytes to the host
    this.stalled = false;
    const rate = baud / 10; // 8N1: start bit, 8 data bits, stop bit
    this.tx = new Line(rate, (chunk) => {
      write(chunk);
      return null;
    });
    this.rx = new Line(rate, (chunk) => this.receive(chunk));
  }

  // Bytes to the host, as they are (a string is taken as latin1: one char, one byte).
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

  // Read the host's bytes from `input` (stdin). A host that writes faster than the line
  // carries waits, as on a UART: stop reading while a few kilobytes are queued.
  listen(input) {
    input.on("data", (data) => {
      if (this.stalled) return;
      this.rx.push(data);
      if (this.rx.length > HIGH_WATER) {
        input.pause();
        const resume = setInterval(() => {
          if (this.rx.length < LOW_WATER || this.stalled) {
            clearInterval(resume);
            input.resume();
          }
        }, 5);
      }
    });
  }

  // Bytes from the host, at the line rate. Returns null, or {consumed, until} when the board
  // must finish a soft reset before the rest is read.
  receive(chunk) {
    for (let i = 0; i < chunk.length; i++) {
      if (this.stalled) return null;
      if (this.stallAfter !== null && this.received >= this.stallAfter) {
        this.stall();
        return null;
      }
      this.received++;
      const until = this.onByte(chunk[i]);
      if (until) return { consumed: i + 1, until };
    }
    return null;
  }

  stall() {
    this.stalled = true;
    this.onStall();
    this.tx.stop();
    this.rx.stop();
    log(`stalled after ${this.received} bytes: no longer answering`);
  }
}
