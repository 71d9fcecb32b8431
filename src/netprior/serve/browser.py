"""Driving the web app from a headless browser (Playwright): shared by the tests (tests/test_serve.py) and the
screenshot script (docs/screenshots.py).  Playwright is imported on use; it is in the test extra only."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _image_on_canvas(elem_id: str) -> str:
    """The selector that matches once a Gradio ImageEditor holds an image (its Undo button turns on)."""
    return f"#{elem_id} button[aria-label=Undo]:not([disabled])"


def editor_has_image(page, elem_id: str) -> bool:
    """Whether the ImageEditor ``elem_id`` holds an image now."""
    return page.locator(_image_on_canvas(elem_id)).count() > 0


def upload_to_editor(page, elem_id: str, path, tries: int = 3) -> None:
    """Put an image into a Gradio ImageEditor and wait until it is on the canvas (its Undo button turns on); the
    file is set again when a heavily loaded page missed it."""
    from playwright.sync_api import TimeoutError as PageTimeout

    for attempt in range(tries):
        page.locator(f"#{elem_id} input[type=file]").first.set_input_files(str(path))
        try:
            page.wait_for_selector(_image_on_canvas(elem_id), state="attached", timeout=40_000)
            return
        except PageTimeout:
            if attempt == tries - 1:
                raise
