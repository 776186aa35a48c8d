"""The exception tree: every error facedyn raises on purpose is a FacedynError."""


class FacedynError(Exception):
    """Base class of facedyn's errors; the message is one line a user can act on."""


class InputError(FacedynError):
    """An input file or argument is missing, unreadable, corrupt or out of range."""


class NoFaceError(FacedynError):
    """No usable face was found where one is needed."""


class OutputError(FacedynError):
    """An output cannot be written: no space left, no permission, a read-only disk."""
