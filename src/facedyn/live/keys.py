"""Shared keys for live streams: 32 random bytes, written as 64 hex digits in a text file."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from facedyn.errors import InputError, OutputError
from facedyn.io.files import existing_file

log = logging.getLogger("facedyn")
KEY_BYTES = 32


def generate_key(path: str | Path) -> Path:
    """Write a new random key to `path`, readable by its owner only (mode 0600).

    Raises:
        InputError: `path` exists already (a key is never overwritten: senders hold it).
        OutputError: the file cannot be written.
    """
    path = Path(path)
    text = secrets.token_hex(KEY_BYTES) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} exists; a key is never overwritten (remove it first, or choose another name)") from None
    except OSError as exc:
        raise OutputError(f"cannot write the key {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def load_key(path: str | Path) -> bytes:
    """The 32-byte key in `path` (64 hex digits; blank lines and spaces around them ignored).

    Raises:
        InputError: missing, unreadable, or not a key made by `facedyn keygen`.
    """
    path = existing_file(path, "key file", "a key file made by 'facedyn keygen -o key.txt'")
    try:
        text = path.read_text("ascii", errors="strict").strip()[:1000]
        key = bytes.fromhex(text)
    except (OSError, UnicodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise InputError(f"{path} is not a facedyn key ({2 * KEY_BYTES} hex digits); make one with "
                         f"'facedyn keygen -o {path.name}' and give the same file to sender and receiver")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users; 'chmod 600 %s' keeps the stream yours", path, path)
    return key
