"""``netprior serve``: a local web app (Gradio) over the library — for people who would rather paint a mask than
write a command.  Needs the ``ui`` extra (``pip install "netprior[ui]"``).

* :mod:`netprior.serve.offline` — the environment and theme that keep the page and the server offline;
* :mod:`netprior.serve.jobs` — a run in a worker thread, with live previews and cancellation;
* :mod:`netprior.serve.workspace` — temporary folder, upload limits, painted masks, outputs;
* :mod:`netprior.serve.app` — the page: Restore, Texture / style and GAN tabs.

It binds 127.0.0.1 unless another host is asked for, serves one job at a time, and deletes its temporary folder
when it stops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .offline import is_loopback, offline_environment
from .workspace import Settings, Workspace

__all__ = ["Server", "Settings", "start"]

LAUNCH_ATTEMPTS = 3


@dataclass
class Server:
    """A running app: ``url``, the Gradio ``demo`` and its ``workspace``; :meth:`close` stops it and deletes the
    temporary folder."""

    url: str
    demo: object
    workspace: Workspace

    def close(self) -> None:
        try:
            self.demo.close()
        finally:
            self.workspace.close()


def start(settings: Settings, host: str = "127.0.0.1", port: int = 7860, *, block: bool = False,
          queue_size: int = 16) -> Server:
    """Build and launch the app on ``host``:``port``.  With ``block`` it serves until interrupted and then cleans
    up; otherwise it returns the running :class:`Server` (tests)."""
    ws = Workspace(settings)
    offline_environment(ws.uploads)
    try:
        import gradio  # noqa: F401  (after offline_environment: gradio reads the environment at import)
    except ImportError:
        ws.close()
        raise InputError('netprior serve needs the web-app extra: pip install "netprior[ui]"') from None
    from .app import build_app
    from .offline import local_theme

    try:
        demo = build_app(ws)
        demo.queue(max_size=queue_size, default_concurrency_limit=1)
        for attempt in range(LAUNCH_ATTEMPTS):
            try:
                _, url, _ = demo.launch(
                    server_name=host, server_port=port, share=False, inbrowser=False, prevent_thread_lock=True,
                    quiet=True, show_error=True, ssr_mode=False, mcp_server=False, pwa=False,
                    enable_monitoring=False, max_file_size=f"{settings.max_upload_mb}mb",
                    allowed_paths=[str(ws.runs)], footer_links=[], theme=local_theme())
                break
            except ValueError as exc:
                # Gradio checks its own URL with a 3 s timeout after starting; on an overloaded machine that
                # check can time out although the server is up: close it and launch again.
                if "localhost is not accessible" not in str(exc) or attempt == LAUNCH_ATTEMPTS - 1:
                    raise
                demo.close()
    except BaseException:
        ws.close()
        raise
    server = Server(url=url, demo=demo, workspace=ws)
    if block:
        try:
            demo.block_thread()
        finally:
            server.close()
    return server


def check_host(host: str) -> str | None:
    """A warning when ``host`` is reachable from other machines (None for loopback)."""
    if is_loopback(host):
        return None
    return (f"warning: serving on {host}: anyone who can reach this machine on the network can use the app "
            "(and its CPU); there is no login. Use the default 127.0.0.1 unless you mean it.")
