"""Runs one command and records what it cost: `python -I -S launch.py RESULT_FILE ARGS...`.

A small process forks the command, so that the command's peak memory is its own
(a child forked by the big harness would start out with the harness's pages counted).
After the command exits, RESULT_FILE gets "exit_code wall_ms peak_kb": wall time from
`time.perf_counter` around fork and wait, peak memory from
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`. The launcher exits with the command's code.
"""

import os
import resource
import sys
import time


def main() -> int:
    result_file, args = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(args[0], args)  # noqa: S606
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    wall_ms = (time.perf_counter() - started) * 1000
    code = os.waitstatus_to_exitcode(status)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(result_file, "w") as out:
        out.write(f"{code} {wall_ms:.3f} {peak}\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
