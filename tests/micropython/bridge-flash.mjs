// The fake board's flash: a host folder that is the board's filesystem root ("/"). It is
// copied into a fresh interpreter's in-memory FS (/flash) at start and after each soft reset,
// and what changed is written back after every executed command (and on a clean exit), so
// files survive soft resets and restarts of the bridge (a power cycle).
//
// Inside the interpreter "/" is an errno_vfs.ErrnoVfs over /flash: file errors carry the
// board's errno numbers (ENOENT 2, EEXIST 17, ENOTDIR 20, EISDIR 21, EINVAL 22, ENOSPC 28 ...),
// not Emscripten's (ENOENT 44), so OSError args and tracebacks say what a board says, and
// listings and open() of a folder behave as littlefs's. With --fs-limit, writes past the
// limit fail with ENOSPC and os.statvfs("/") reports capacity and free space in littlefs's
// 4096-byte blocks.
//
// Constraints: the board's programs must see no trace of this glue: its Python lives under
// /_bridge (outside "/"), is imported once and dropped from sys.modules, and its frames are
// cut from tracebacks (bridge-interp.mjs, by the SUPPORT prefix exported here).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ERRNO_VFS = path.join(HERE, "errno_vfs.py");
const FLASH = "/flash"; // where the board's filesystem lives in the port's in-memory FS
export const SUPPORT = "/_bridge"; // Python modules the bridge loads, outside the board's "/"
const BLOCK = 4096; // littlefs block size on the ESP32, for statvfs

export class Flash {
  constructor(root, limit) {
    this.root = root;
    this.limit = limit;
    this.snapshot = new Map(); // "a/b.py" -> Buffer (file) or null (folder): what the host has
  }

  // Make the flash the root of a fresh interpreter `mp` (from loadMicroPython): copy the host
  // folder in, guard the limit, mount the errno VFS over it. Returns the bridge_setup module
  // (its run_file() runs boot.py and main.py as a board does).
  mount(mp) {
    const FS = mp.FS;
    FS.mkdirTree(SUPPORT);
    FS.writeFile(SUPPORT + "/errno_vfs.py", fs.readFileSync(ERRNO_VFS));
    FS.writeFile(SUPPORT + "/bridge_setup.py", SETUP_MODULE);
    this.load(FS);
    this.guard(FS);
    mp.registerJsModule("_bridge_board", {
      limit: this.limit || 0,
      used: () => Flash.used(FS),
    });
    mp.runPython(SETUP);
    const support = mp.pyimport("bridge_setup");
    mp.runPython(FORGET);
    return support;
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
// hidden (see hideBridgeFrames in bridge-interp.mjs); imported and dropped, so the REPL's
// globals and sys.modules start as on a board.
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
