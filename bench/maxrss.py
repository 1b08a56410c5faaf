"""`python bench/maxrss.py CMD...`: run CMD, print `<seconds> <peak RSS bytes>` of CMD alone, exit with its code.

Linux keeps a process's peak RSS across fork and exec, so a child forked from a large parent (the benchmark
after its other measurements) reports at least the parent's size. Forked from this small process instead,
the command's own peak is what `wait4` reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    print(f"{time.perf_counter() - start:.6f} {usage.ru_maxrss * 1024}")  # Linux reports KiB
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
