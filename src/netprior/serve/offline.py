"""Keep the web app on this machine: nothing is fetched from or sent to another host.

* :func:`offline_environment` must run before ``gradio`` is imported: it turns off Gradio's usage analytics and
  version check (``GRADIO_ANALYTICS_ENABLED``), the Hugging Face hub's network calls and telemetry
  (``HF_HUB_OFFLINE``, ``HF_HUB_DISABLE_TELEMETRY``), and puts Gradio's upload cache in our temporary folder.
* :func:`local_theme` is Gradio's default theme with system fonts: the stock theme loads its fonts from a web
  font service, which would be the page's only request to another host.
* ``launch`` is called with server-side rendering, the MCP server and the PWA manifest off (see
  :mod:`netprior.serve.app`).

The browser test (tests/test_serve.py) records every request the page makes and checks that none leaves
127.0.0.1, and an audit hook checks the same for the server's own outgoing connections.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif")
SYSTEM_MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")


def offline_environment(upload_dir: Path) -> None:
    """Set the environment that keeps Gradio and huggingface_hub from calling out (before importing gradio)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["GRADIO_TEMP_DIR"] = str(upload_dir)


def local_theme():
    """Gradio's default theme with system fonts only (no web-font requests)."""
    import gradio as gr

    return gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(SYSTEM_MONO_FONTS))


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
