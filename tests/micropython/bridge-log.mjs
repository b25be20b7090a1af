// The bridge's event log, shared by its modules (bridge.mjs and bridge-*.mjs).
// stderr only: stdout is the serial line, where a stray byte would reach the host as if the
// board had sent it. tests/serialdevice.py reads these lines ("bridge: ready (pid N)",
// "bridge: stalled after N bytes", "bridge: exit: ..."), so their wording is an interface.

export function log(message) {
  process.stderr.write("bridge: " + message + "\n");
}

// A fault of the bridge itself (bad option, port missing, interpreter crash): exit code 2.
export function die(message) {
  log(message);
  process.exit(2);
}
