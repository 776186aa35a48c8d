"""Writing files atomically: into a temp file beside the target, then a rename, so an
interrupted run never leaves a half-written file under the final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def temp_beside(path: Path) -> Path:
    """An empty, private temp file in `path`'s folder (same file system, so rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def publish(tmp: Path, path: Path) -> None:
    """Give the finished temp file normal permissions (mkstemp made it private) and move it to `path`."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(temp path), then publish the temp file as `path`; on error, remove it."""
    tmp = temp_beside(path)
    try:
        write(tmp)
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
