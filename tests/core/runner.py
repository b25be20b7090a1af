"""Plain test runner for tests/core, the same on MicroPython and CPython.

Imports every module named test_core_*.py in this folder (by name), runs every callable
named test_* in it (in name order), and reports per test:
    FAIL module.test_name: ExcType: message      followed by the traceback
and at the end one line, exactly
    N passed, N failed
which tests/micropython/run.mjs checks (MicroPython's WebAssembly runner exits 0 even on an
exception, so the harness judges this line, not an exit code). A module that fails to import
counts as one failure.

Usage:
    python3 tests/core/runner.py [FILTER ...]                  (CPython, from anywhere)
    node tests/micropython/run.mjs [FILTER ...]               (MicroPython)
A FILTER keeps the tests whose "module.test_name" contains it.

Under pytest the same modules are collected natively; this runner is for MicroPython, and a
quick check of the same suite under CPython.
"""

import os
import sys

PREFIX = "test_core_"
MICROPYTHON = sys.implementation.name == "micropython"


def _here():
    path = __file__.replace("\\", "/")
    if not path.startswith("/") and not MICROPYTHON:
        path = os.path.abspath(path).replace("\\", "/")
    return path.rsplit("/", 1)[0] if "/" in path else "."


def _setup_path(here):
    # The test modules import core_support from this folder and kiosk from firmware/.
    firmware = here.rsplit("/", 2)[0] + "/firmware"
    for p in (firmware, here):
        if p not in sys.path:
            sys.path.insert(0, p)


def module_names(folder):
    names = []
    for name in os.listdir(folder):
        if name.startswith(PREFIX) and name.endswith(".py"):
            names.append(name[:-3])
    names.sort()
    return names


def _print_exception(e):
    if MICROPYTHON:
        sys.print_exception(e)
    else:
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stdout)


def _describe(e):
    text = str(e)
    return type(e).__name__ + (": " + text if text else "")


def run(filters=(), folder=None):
    """Run the suite; returns (passed, failed). Prints FAIL lines and the summary line."""
    folder = folder or _here()
    _setup_path(folder)
    passed = 0
    failed = 0
    for mod_name in module_names(folder):
        try:
            module = __import__(mod_name)
        except Exception as e:  # an import error is a failure of the whole module
            failed += 1
            print("FAIL " + mod_name + " (import): " + _describe(e))
            _print_exception(e)
            continue
        for name in sorted(dir(module)):
            if not name.startswith("test_"):
                continue
            fn = getattr(module, name)
            if not callable(fn):
                continue
            full = mod_name + "." + name
            if filters and not any(f in full for f in filters):
                continue
            try:
                fn()
            except Exception as e:  # report every failure, keep running the others
                failed += 1
                print("FAIL " + full + ": " + _describe(e))
                _print_exception(e)
            else:
                passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return passed, failed


def main(argv):
    passed, failed = run(tuple(argv))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    status = main(sys.argv[1:])
    if status and not MICROPYTHON:
        # Under the WebAssembly port the harness judges the summary line instead.
        sys.exit(status)
