"""How freed host memory is kept: reused by the process instead of handed back to the OS.

glibc's malloc serves each block above its mmap threshold (128 KiB, rising with use to at most
32 MiB) with a fresh `mmap` and returns it to the OS on free. A training step frees and
re-allocates the same activations every step, so every step page-faults them in again: about
24,000 minor faults per tiny-model step and 18,000 per bare forward+backward on this project's
2-core VM (benchmarks/results/bench_step_system_malloc.json; with this setting ~2 and 0,
bench_step.json). Keeping freed blocks in the heap removes those faults. The costs: the process
holds its peak memory until it exits (as PyTorch's CUDA caching allocator does on the GPU), and
large blocks whose sizes change from step to step can fragment the heap, so resident memory may
settle above the peak; `train.reuse_freed_memory: false` restores glibc's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's <malloc.h>
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int: hand memory back only past 2 GiB free at the heap top


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse (no mmap per block, no trimming); process-wide.

    Returns whether it was applied: False (nothing changed) off Linux/glibc, where the system
    allocator behaves differently. Blocks mapped before the call stay as they are; the heap
    still falls back to mmap when it cannot grow, so nothing becomes unallocatable.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM) == 1
