"""The exception tree: every error facedyn raises on purpose is a FacedynError; and the
one line a front end (CLI, web app, batch report) shows for any exception."""

import errno


class FacedynError(Exception):
    """Base class of facedyn's errors; the message is one line a user can act on."""


class InputError(FacedynError):
    """An input file or argument is missing, unreadable, corrupt or out of range."""


class NoFaceError(FacedynError):
    """No usable face was found where one is needed."""


class OutputError(FacedynError):
    """An output cannot be written: no space left, no permission, a read-only disk."""


_REASONS = {
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file is larger than this system allows",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENAMETOOLONG: "the file name is too long",
}


def os_error_reason(exc: OSError) -> str:
    """A short, plain reason for an OSError (errno first, then the system's own words)."""
    return _REASONS.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)


def error_line(exc: BaseException) -> str:
    """The one line a user sees for `exc`: facedyn's own message, a plain reason for an OS
    error, or, for anything else (a bug), its type and text with a request to report it."""
    if isinstance(exc, FacedynError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "not enough memory for this input; try a smaller photo, --size or --output-size"
    elif isinstance(exc, OSError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        text = f"{os_error_reason(exc)}{where}"
    else:
        text = (f"internal error ({type(exc).__name__}: {exc}); this is a bug, please report it "
                "(FACEDYN_DEBUG=1 shows the traceback)")
    return " ".join(text.split())
