"""Directories outside pytest's `tmp_path` (which only its owner can enter), for tests in
which another user must reach the files."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def reachable_dir(prefix: str, mode: int) -> Iterator[Path]:
    """A new directory with `mode` under the system's temporary directory, removed with
    everything in it afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(mode)
    try:
        yield path
    finally:
        shutil.rmtree(path)
