"""In-memory file systems that lose power at any step: the fs boundary of kiosk.journal.

Three models of what a power cut leaves on flash, each as strict as the real thing allows
(a model that keeps less than the real file system would hide bugs, so when in doubt a model
keeps LESS, or keeps bytes in the worst order):

MemFS ("prefix"): bytes are durable as soon as write() takes them, so a cut keeps the prefix
  written so far, torn mid-frame. Rename replaces at once (`replaces`=False: it refuses an
  existing target with EEXIST, as FatFs's f_rename does). Steps: each byte written, each
  truncating open, rename and remove.

LfsFS (littlefs v2, MicroPython's default on the ESP32): copy-on-write. What a handle writes
  is invisible until flush() (lfs_file_sync) or close() commits it, all at once; a cut
  before the commit keeps the file as it was. open("wb") of an existing file truncates only
  at that commit; creating a file, rename (replacing an existing target) and remove are each
  one atomic metadata commit. Steps: each open that creates, write(), commit, rename, remove.

FatFS (MicroPython's VfsFat, FatFs on an esp32.Partition block device), what its sources do:
  - A file is a directory entry (first cluster, size) and data sectors. FatFs keeps the
    sector being written in a buffer: a full sector goes to flash when the write moves past
    it, the last partial one at f_sync (flush/close). The size in the directory entry
    changes only at f_sync, after the data (`size_first`=True puts it before, as a device
    with a reordering write cache may): so unsynced data is lost at a cut, and with
    size_first a file can be left with its size set over sectors that hold garbage.
  - Appending rewrites the file's last, partly filled sector, and Partition.writeblocks
    erases a block before it programs it (esp_partition_erase_range, then write): a cut
    during that sector write leaves it erased (0xFF) or half programmed, destroying the
    bytes of earlier, synced writes that share the sector (`tear`; `sector` = 4096 on the
    ESP32, smaller here so that records span and share sectors). Never-written sectors of a
    newly allocated cluster hold leftover bytes (modelled as zeros).
  - VfsFat.rename calls f_rename; when the target exists (FR_EXIST) it removes the target,
    then calls f_rename again: NOT atomic, a cut between leaves only the source.
  - open("wb") of an existing file (FA_CREATE_ALWAYS) sets its size to 0 and frees its
    clusters at once; creating, removing and renaming a file are each one directory update.
  Outside the model: a cut while the DIRECTORY sector (or a FAT sector) itself is erased and
  reprogrammed. Every f_sync rewrites the directory sector, and tearing it destroys every
  entry in it, this journal's and all other files' alike: no file-level protocol survives
  that, so directory updates are atomic steps here. Lost clusters (allocated, never linked
  in a synced entry) only leak space, and are not modelled either.
  Steps: each directory update, each sector erase and each part (`program_steps` per
  sector) of programming it.

Common API: open(path, mode) with "rb", "wb", "ab" (files with read/readinto, write, flush,
close); rename, remove (OSError ENOENT when missing); `budget` (None: no cut) counts the
steps left before the power goes: the step that finds it at 0 raises PowerCut, and so does
every step after it until power_on(); `steps` counts steps taken; clone() copies what is on
flash; visible(path) is what a reboot reads (None when absent); names() lists the files;
size(path) is len(visible(path)); `writes` logs (path, bytes) of every write() call and
`flushes` counts flush() calls. MicroPython compatible, like the rest of tests/core.
"""

import errno


class PowerCut(Exception):
    """The power went: nothing after this point reached the flash."""


# --- MemFS: every byte durable as it is written ------------------------------------------

class MemFile:
    def __init__(self, fs, path, data, snapshot):
        self.fs = fs
        self.path = path
        self.data = data  # the file's bytearray itself (an inode: rename does not move it)
        self.snap = snapshot  # read mode: the content at open
        self.pos = 0

    def read(self, n=-1):
        end = len(self.snap) if n is None or n < 0 else min(len(self.snap), self.pos + n)
        out = self.snap[self.pos:end]
        self.pos = end
        return out

    def readinto(self, buf):
        n = min(len(buf), len(self.snap) - self.pos)
        buf[:n] = self.snap[self.pos:self.pos + n]
        self.pos += n
        return n

    def write(self, data):
        fs = self.fs
        data = bytes(data)
        fs.writes.append((self.path, len(data)))
        if fs.fail_writes:
            fs.fail_writes -= 1
            self.data.extend(data[:len(data) // 2])  # torn, and the write reports it
            raise OSError(errno.EIO, "write failed")
        k = fs.allow(len(data))
        self.data.extend(data[:k])
        if k < len(data):
            raise PowerCut()
        return len(data)

    def flush(self):
        self.fs.flushes += 1

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class MemFS:
    """Bytes durable as soon as write() takes them (see the module docstring)."""

    def __init__(self, files=None, replaces=True):
        self.files = {} if files is None else files
        self.replaces = replaces
        self.budget = None
        self.steps = 0
        self.fail_writes = 0  # the next n write() calls write half and raise OSError
        self.writes = []
        self.flushes = 0

    def clone(self):
        files = {}
        for name in self.files:
            files[name] = bytearray(self.files[name])
        return MemFS(files, self.replaces)

    def power_on(self):
        self.budget = None

    def allow(self, n):
        if self.budget is not None:
            n = min(n, self.budget)
            self.budget -= n
        self.steps += n
        return n

    def step(self):
        if self.allow(1) < 1:
            raise PowerCut()

    def open(self, path, mode):
        if "r" in mode:
            if path not in self.files:
                raise OSError(errno.ENOENT, path)
            return MemFile(self, path, None, bytes(self.files[path]))
        if "w" in mode:
            self.step()
            self.files[path] = bytearray()
        elif path not in self.files:
            self.files[path] = bytearray()
        return MemFile(self, path, self.files[path], None)

    def rename(self, src, dst):
        if src not in self.files:
            raise OSError(errno.ENOENT, src)
        if dst in self.files and not self.replaces:
            raise OSError(errno.EEXIST, dst)
        self.step()
        self.files[dst] = self.files.pop(src)

    def remove(self, path):
        if path not in self.files:
            raise OSError(errno.ENOENT, path)
        self.step()
        del self.files[path]

    def visible(self, path):
        return bytes(self.files[path]) if path in self.files else None

    def names(self):
        return sorted(self.files)

    def size(self, path):
        return len(self.files[path])


# --- what the models below share -----------------------------------------------------------

class _Model:
    def __init__(self):
        self.budget = None
        self.steps = 0
        self.dead = False
        self.writes = []
        self.flushes = 0
        self.fail_writes = 0

    def step(self):
        if self.dead:
            raise PowerCut()
        if self.budget is not None:
            if self.budget <= 0:
                self.dead = True
                raise PowerCut()
            self.budget -= 1
        self.steps += 1

    def power_on(self):
        """Back after a cut: what is on flash stays, every open handle is gone."""
        self.budget = None
        self.dead = False
        self.epoch += 1

    def size(self, path):
        return len(self.visible(path))


class _Reader:
    def __init__(self, data):
        self.snap = data
        self.pos = 0

    def read(self, n=-1):
        end = len(self.snap) if n is None or n < 0 else min(len(self.snap), self.pos + n)
        out = self.snap[self.pos:end]
        self.pos = end
        return out

    def readinto(self, buf):
        n = min(len(buf), len(self.snap) - self.pos)
        buf[:n] = self.snap[self.pos:self.pos + n]
        self.pos += n
        return n

    def close(self):
        pass


# --- LfsFS: littlefs, copy-on-write, commit at sync ------------------------------------------

class LfsFile:
    def __init__(self, fs, path, pending):
        self.fs = fs
        self.path = path
        self.pending = pending  # the handle's view; on flash only once committed
        self.dirty = False
        self.epoch = fs.epoch

    def write(self, data):
        fs = self.fs
        fs.writes.append((self.path, len(data)))
        fs.step()
        self.pending.extend(bytes(data))
        self.dirty = True
        return len(data)

    def flush(self):
        fs = self.fs
        fs.flushes += 1
        if self.dirty:
            fs.step()  # one metadata commit: all of it or none
            if self.epoch == fs.epoch:
                fs.files[self.path] = bytes(self.pending)
            self.dirty = False

    def close(self):
        self.flush()


class LfsFS(_Model):
    """littlefs v2: writes invisible until a commit, which is atomic (module docstring)."""

    def __init__(self, files=None):
        _Model.__init__(self)
        self.files = {} if files is None else files  # committed content: bytes
        self.epoch = 0

    def clone(self):
        return LfsFS(dict(self.files))

    def open(self, path, mode):
        if "r" in mode:
            if path not in self.files:
                raise OSError(errno.ENOENT, path)
            return _Reader(self.files[path])
        if path not in self.files:
            self.step()  # creating the file is a commit of its own
            self.files[path] = b""
        pending = bytearray() if "w" in mode else bytearray(self.files[path])
        f = LfsFile(self, path, pending)
        f.dirty = "w" in mode  # the truncation lands at the first commit
        return f

    def rename(self, src, dst):
        if src not in self.files:
            raise OSError(errno.ENOENT, src)
        self.step()
        self.files[dst] = self.files.pop(src)

    def remove(self, path):
        if path not in self.files:
            raise OSError(errno.ENOENT, path)
        self.step()
        del self.files[path]

    def visible(self, path):
        return self.files.get(path)

    def names(self):
        return sorted(self.files)


# --- FatFS: FatFs on an erase-then-program block device --------------------------------------

class _Inode:
    def __init__(self, size=0, data=None):
        self.size = size  # what the directory entry says
        self.data = bytearray() if data is None else data  # the file's sectors on flash


class FatFile:
    def __init__(self, fs, path, inode, pos):
        self.fs = fs
        self.path = path
        self.inode = inode
        self.pos = pos
        self.size = pos  # the size this handle will write into the entry at sync
        self.epoch = fs.epoch
        self.sect = -1
        self.buf = None
        self.dirty = False
        self._load(pos // fs.sector)

    def _load(self, sect):
        # FatFs reads a partly filled sector into its buffer before writing into it.
        self.sect = sect
        self.buf = bytearray(self.fs.read_sector(self.inode, sect))
        self.dirty = False

    def write(self, data):
        fs = self.fs
        s = fs.sector
        data = bytes(data)
        fs.writes.append((self.path, len(data)))
        if fs.dead:
            raise PowerCut()
        i = 0
        while i < len(data):
            off = self.pos % s
            k = min(s - off, len(data) - i)
            self.buf[off:off + k] = data[i:i + k]
            self.dirty = True
            i += k
            self.pos += k
            if self.pos > self.size:
                self.size = self.pos
            if self.pos % s == 0:  # the sector is full: FatFs writes it as it moves on
                fs.write_sector(self.inode, self.sect, self.buf, self.epoch)
                self._load(self.sect + 1)
        return len(data)

    def flush(self):
        fs = self.fs
        fs.flushes += 1
        if fs.dead:
            raise PowerCut()
        size_changed = self.size != self.inode.size
        if fs.size_first and size_changed:
            fs.set_size(self.inode, self.size, self.epoch)
        if self.dirty:
            fs.write_sector(self.inode, self.sect, self.buf, self.epoch)
            self.dirty = False
        if not fs.size_first and size_changed:
            fs.set_size(self.inode, self.size, self.epoch)

    def close(self):
        self.flush()


class FatFS(_Model):
    """FatFs on an erase-then-program block device (module docstring)."""

    def __init__(self, entries=None, sector=128, tear=True, size_first=False,
                 program_steps=2):
        _Model.__init__(self)
        self.entries = {} if entries is None else entries  # name -> _Inode
        self.sector = sector
        self.tear = tear
        self.size_first = size_first
        self.program_steps = program_steps
        self.epoch = 0

    def clone(self):
        entries = {}
        for name in self.entries:
            ino = self.entries[name]
            entries[name] = _Inode(ino.size, bytearray(ino.data))
        return FatFS(entries, self.sector, self.tear, self.size_first, self.program_steps)

    # --- the device ------------------------------------------------------------------------

    def read_sector(self, inode, sect):
        s = self.sector
        data = inode.data[sect * s:(sect + 1) * s]
        return bytes(data) + bytes(s - len(data))  # never written: leftover bytes

    def write_sector(self, inode, sect, buf, epoch):
        """Partition.writeblocks: erase the block, then program it."""
        if epoch != self.epoch:
            raise PowerCut()  # a handle from before the cut
        s = self.sector
        need = (sect + 1) * s
        if len(inode.data) < need:
            inode.data.extend(bytes(need - len(inode.data)))
        if not self.tear:
            self.step()
            inode.data[sect * s:need] = buf
            return
        self.step()
        inode.data[sect * s:need] = b"\xff" * s
        parts = self.program_steps
        for i in range(parts):
            self.step()
            a = sect * s + s * i // parts
            b = sect * s + s * (i + 1) // parts
            inode.data[a:b] = buf[a - sect * s:b - sect * s]

    def set_size(self, inode, size, epoch):
        if epoch != self.epoch:
            raise PowerCut()
        self.step()  # one directory update
        inode.size = size

    # --- the VFS ---------------------------------------------------------------------------

    def open(self, path, mode):
        if "r" in mode:
            if path not in self.entries:
                raise OSError(errno.ENOENT, path)
            return _Reader(self.visible(path))
        ino = self.entries.get(path)
        if ino is None:
            self.step()  # a new directory entry, size 0
            ino = _Inode()
            self.entries[path] = ino
        elif "w" in mode:
            self.step()  # FA_CREATE_ALWAYS: size 0, clusters freed
            self.entries[path] = ino = _Inode()
        return FatFile(self, path, ino, 0 if "w" in mode else ino.size)

    def rename(self, src, dst):
        if src not in self.entries:
            raise OSError(errno.ENOENT, src)
        if dst in self.entries:
            # VfsFat: f_rename says FR_EXIST, so the target is removed first.
            self.step()
            del self.entries[dst]
        self.step()
        self.entries[dst] = self.entries.pop(src)

    def remove(self, path):
        if path not in self.entries:
            raise OSError(errno.ENOENT, path)
        self.step()
        del self.entries[path]

    def visible(self, path):
        ino = self.entries.get(path)
        if ino is None:
            return None
        data = bytes(ino.data[:ino.size])
        return data + bytes(ino.size - len(data))

    def names(self):
        return sorted(self.entries)
