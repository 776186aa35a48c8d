"""Output paths: checked before any work, written atomically (a temp file beside the target,
then a rename), so a doomed run fails at once and an interrupted one leaves nothing behind."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from facedyn.errors import InputError, OutputError, os_error_reason


def existing_file(path: str | Path, kind: str, instead: str) -> Path:
    """`path` as a Path, checked to name an existing file.

    Args:
        kind: what it should be, for the message ("image", "video", "motion file").
        instead: what to give instead when it is a folder ("a photo (JPEG, PNG, ...)").

    Raises:
        InputError: missing, or not a file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{kind} not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file; give {instead}")
    return path


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (FFmpeg's and OS errors: their plain reason)."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def check_output(path: str | Path, suffixes: Iterable[str], inputs: Iterable = (), kind: str = "video") -> Path:
    """Check an output path before any work starts; returns it as a Path.

    Args:
        path: the output file.
        suffixes: the allowed endings, lower case with the dot (".mp4", ...); matched
            case-insensitively.
        inputs: the run's input paths (None and arrays are skipped): the output may not be
            any of them, also through a link.
        kind: what is written, for the message ("video", "motion file").

    Raises:
        InputError: a wrong ending, a folder or device in the way, a missing folder, or the
            output is one of the inputs.
    """
    path = Path(path)
    suffixes = tuple(suffixes)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"cannot write a {kind} to {path.name or path}: the name must end in {', '.join(suffixes)}")
    if path.is_dir():
        raise InputError(f"the output {path} is a folder; give a file name, e.g. {path / ('out' + suffixes[0])}")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise InputError(f"the output {path} exists and is not a regular file; choose another name")
    parent = path.parent
    if not parent.exists():
        raise InputError(f"output folder does not exist: {parent}; create it first")
    if not parent.is_dir():
        raise InputError(f"the output's folder {parent} is a file, not a folder; choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into {parent}: permission denied; choose another output folder")
    for source in inputs:
        if isinstance(source, str | Path) and _same_file(path, Path(source)):
            raise InputError(f"the output {path} is the input {source}; choose another output name "
                             "(writing there would destroy the input)")
    return path


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def temp_beside(path: Path) -> Path:
    """An empty, private temp file in `path`'s folder (same file system, so rename is atomic).

    Raises:
        OutputError: the folder cannot be written.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix + ".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_error_reason(exc)}") from None
    os.close(fd)
    return Path(tmp)


def publish(tmp: Path, path: Path) -> None:
    """Give the finished temp file normal permissions (mkstemp made it private) and move it to `path`.

    Raises:
        OutputError: the rename failed (the temp file is left for the caller to remove).
    """
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_error_reason(exc)}") from None


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(temp path), then publish the temp file as `path`; on any error or
    interruption, remove it.

    Raises:
        OutputError: the file system refused the write (full disk, permissions).
    """
    tmp = temp_beside(path)
    try:
        write(tmp)
        publish(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {os_error_reason(exc)}; nothing was written") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
