"""The web app (`facedyn ui`, `pip install "facedyn[ui]"`): Gradio over the public API.

    from facedyn.ui import launch
    with launch(port=7860) as app:           # serves in the background
        print(app.url)                       # http://127.0.0.1:7860/
        app.wait()                           # until Ctrl-C

It serves Gradio's own bundled front end (nothing is fetched from the internet), sends no
analytics, is never shared through Gradio's tunnel, and listens on 127.0.0.1 unless told
otherwise; another host needs a login (`auth`).
"""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

from facedyn.errors import InputError

LOOPBACK_NAMES = ("localhost",)
MIN_PASSWORD = 8
MAX_UPLOAD = "1gb"  # a long 4K driving video fits; a flood of larger uploads is refused


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str) -> list[tuple[str, str]]:
    """Logins from `user:password`, or from a file of them: one `user:password` per line, or
    a line with only a token (log in as user `facedyn` with the token as the password).
    Blank lines and lines starting with # are skipped.

    Raises:
        InputError: an unreadable file, a malformed login, or a password under 8 characters.
    """
    path = Path(value).expanduser()
    if path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the auth file {path}: {exc}") from None
        where = f"the auth file {path}"
    elif ":" in value:
        lines, where = [value], "--auth"
    else:
        raise InputError(f"--auth {value!r} is neither USER:PASSWORD nor an existing file of logins")
    logins = []
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith("#"):
            continue
        user, password = line.split(":", 1) if ":" in line else ("facedyn", line)
        if not user.strip() or len(password) < MIN_PASSWORD:
            raise InputError(f"{where}: each login needs a user name and a password of at least {MIN_PASSWORD} characters")
        logins.append((user.strip(), password))
    if not logins:
        raise InputError(f"{where} holds no login; write USER:PASSWORD or a token on a line")
    return logins


class WebApp:
    """A running web app (from launch): its `url`; `wait()` serves until Ctrl-C, `close()` stops
    it and removes its work folder. Also a context manager."""

    def __init__(self, blocks, studio, url: str) -> None:
        self._blocks, self._studio, self.url = blocks, studio, url

    def wait(self) -> None:
        """Serve until KeyboardInterrupt (which is raised to the caller)."""
        while True:
            time.sleep(0.5)

    def close(self) -> None:
        self._blocks.close()
        self._studio.close()

    def __enter__(self) -> WebApp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def launch(host: str = "127.0.0.1", port: int = 7860, auth: str | None = None) -> WebApp:
    """Start the web app in the background (the models load first, so the first preview is quick).

    Args:
        host: the address to listen on; anything but loopback needs `auth`.
        port: the TCP port.
        auth: USER:PASSWORD or a file of logins (see parse_auth).

    Raises:
        InputError: a non-loopback host without auth, a bad auth, or Gradio not installed.
        OSError: the port is taken.
    """
    logins = parse_auth(auth) if auth else None
    if logins is None and not is_loopback(host):
        raise InputError(f"--host {host} lets other machines reach the app; give --auth USER:PASSWORD or "
                         "--auth FILE (a file of logins) too")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before Gradio is imported: it reads this at import
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError('the web app needs Gradio: pip install "facedyn[ui]" (or make ui)') from None
    from facedyn.ui.app import build_app
    from facedyn.ui.studio import Studio

    studio = Studio()
    blocks = None
    try:
        studio.warm()
        blocks = build_app(studio)
        blocks.queue(default_concurrency_limit=1, max_size=32)
        _, url, _ = blocks.launch(server_name=host, server_port=port, auth=logins, share=False, ssr_mode=False,
                                  inbrowser=False, prevent_thread_lock=True, quiet=True, footer_links=[],
                                  mcp_server=False, pwa=False, allowed_paths=[str(studio.work_dir)],
                                  max_file_size=MAX_UPLOAD)
    except OSError as exc:
        if blocks is not None:
            blocks.close()
        studio.close()
        raise InputError(f"cannot listen on {host}:{port} ({' '.join(str(exc).split())[:120]}); "
                         "choose another --port") from None
    except BaseException:
        if blocks is not None:
            blocks.close()
        studio.close()
        raise
    return WebApp(blocks, studio, url)


__all__ = ["WebApp", "is_loopback", "launch", "parse_auth"]
