"""The binding stays whole: every symbol the loaded libquotakeeper exports is called by the
package or listed in EXCLUDED with the reason it is not.

The exports are read from the real shared object this process loaded (its path from
/proc/self/maps, its dynamic symbols from ``nm -D --defined-only``), not from a list kept by
hand, so a new public function of the library fails this test until the package calls it or
EXCLUDED says why not. "Called" means a ``lib.<name>`` in the package's own sources and a
declaration in the cffi cdef (build_ffi.py): a function declared and never used binds nothing.
"""

import os
import re
import shutil
import subprocess

import quotakeeper
from quotakeeper._native import lib

#: Exported functions the package deliberately does not call, each with its reason.
EXCLUDED = {
    "qk_strerror": "a code's generic text; an exception carries qk_errmsg(), which says what "
                   "went wrong in this call, and takes its class and .name from qk_err_name()",
    "qk_level_name": "Level is a Python IntEnum whose member names are the level names; "
                     "str(Level.WARN) and Level.WARN.name need no C call",
}

#: What the linker defines in every shared object: not the library's API.
LINKER = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def loaded_library() -> str:
    with open("/proc/self/maps") as maps:
        paths = {line.split(None, 5)[5].strip() for line in maps
                 if len(line.split(None, 5)) == 6 and "libquotakeeper.so" in line}
    assert len(paths) == 1, f"expected one loaded libquotakeeper, found {sorted(paths)}"
    return paths.pop()


def exported(path: str) -> set:
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is not on PATH: scripts/need.sh binutils"
    out = subprocess.run([nm, "-D", "--defined-only", path], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    names = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    return names - LINKER


def called_by_package() -> set:
    pkg = os.path.dirname(quotakeeper.__file__)
    found = set()
    for name in os.listdir(pkg):
        if name.endswith(".py"):
            with open(os.path.join(pkg, name)) as f:
                found |= set(re.findall(r"\blib\.(qk_\w+)\s*\(", f.read()))
    return found


def test_every_exported_symbol_is_bound_or_excluded_with_a_reason():
    so = loaded_library()
    exports = exported(so)
    assert "qk_tracker_new" in exports, f"nm read no API from {so}: {sorted(exports)}"
    called = called_by_package()
    declared = {n for n in dir(lib) if n.startswith("qk_") and callable(getattr(lib, n))}

    bound = called & declared
    missing = exports - bound - set(EXCLUDED)
    assert not missing, (f"{so} exports {sorted(missing)}, which the package neither calls "
                         "(lib.<name>( in quotakeeper/, declared in build_ffi.py's cdef) nor "
                         "lists in tests/test_exports.py's EXCLUDED with a reason")
    undeclared = called - declared
    assert not undeclared, f"the package calls {sorted(undeclared)}, missing from the cdef"
    stale = set(EXCLUDED) - exports
    assert not stale, f"EXCLUDED names {sorted(stale)}, which {so} does not export"
    both = set(EXCLUDED) & called
    assert not both, f"EXCLUDED names {sorted(both)}, which the package calls"
    assert all(isinstance(r, str) and len(r) > 20 for r in EXCLUDED.values())
    # Every library function the cdef declares is exported (qk_py_* are the package's own
    # extern "Python" callbacks, defined in the extension).
    foreign = {n for n in declared if not n.startswith("qk_py_")} - exports
    assert not foreign, f"the cdef declares {sorted(foreign)}, which {so} does not export"
