"""Keep freed tensor memory in the process (glibc malloc tuning) for CPU training.

With glibc's defaults, a CPU training step hands most of its activation memory back to the
kernel when it is freed (``munmap`` of large blocks, ``brk`` trimming of the heap top) and
faults it in again, zero-filled, in the next step: on the 2-core machine this project is
measured on, a third to a half of the training time was kernel time. Serving every
allocation from the heap and never trimming it keeps those pages mapped (the effect
jemalloc or tcmalloc give through ``LD_PRELOAD``; PyTorch's CPU performance guide recommends
those). The cost: the process keeps its peak heap size until it exits.

:func:`tune_malloc_for_training` does this with ``mallopt`` on Linux with glibc; it changes
nothing elsewhere, when the user set any ``MALLOC_*`` variable (their settings win), or when
``POSECLI_MALLOC_TUNING=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

#: ``mallopt`` parameter numbers (glibc ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Largest ``int`` ``mallopt`` takes: heap tops below 2 GiB of free memory are kept.
KEEP_HEAP_BYTES = 2**31 - 1
#: Environment variable that turns the tuning off (``0``) .
OPT_OUT_ENV = "POSECLI_MALLOC_TUNING"


def tune_malloc_for_training() -> bool:
    """Serve allocations from the heap and stop trimming it; True when applied.

    Applies to the calling process and to the processes it forks later (data-loader workers).
    """
    if os.environ.get(OPT_OUT_ENV, "1") == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # both must succeed (mallopt returns 1 on success); order: no new mmap'd blocks first
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_HEAP_BYTES))
