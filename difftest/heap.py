"""Keep freed memory for reuse in a process that churns through large arrays.

glibc serves each allocation above its mmap threshold (128 KB, growing up to 32 MB) with a
fresh ``mmap`` and unmaps it when freed, so every large temporary is paid again in page faults:
the kernel zeroes each 4 KB page on first touch. A localization of a 50 MB model allocates and
frees hundreds of such arrays (weights as float64, ONNX Runtime's values, serialized models):
on ResNet-18 at 224x224, about 300,000 page faults and 0.9 s of system CPU per run. Raising the
mmap threshold serves them from the heap instead, where freed memory is reused, and a trim
threshold returns to the system only a free top of the heap above 256 MB, which bounds what an
idle process keeps. Measured (``convfail difftest localize`` on that model, ``/usr/bin/time
-v``): 306,000 -> 170,000 page faults, system CPU 0.88-0.97 -> 0.46-0.53 s, peak resident
memory 851-895 -> 816-858 MB, the same report. ``mallopt(3)`` is glibc's; elsewhere (musl,
macOS) this does nothing.
"""

from __future__ import annotations

import ctypes

# mallopt(3) parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 1 << 30  # allocations up to 1 GiB come from the heap, reused when freed
TRIM_THRESHOLD = 256 << 20  # a free top of the heap above 256 MiB goes back to the system


def keep_freed_memory() -> bool:
    """Tune glibc's allocator as above for the rest of the process; whether it took effect."""
    try:  # the C library this process already runs on: no search for its file
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library to load, or not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
