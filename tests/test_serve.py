"""``netprior serve``: the job runner cancels a real optimisation at once, the painted mask and upload limits
follow the CLI's rules, and — in a real browser (Debian's chromium driven by Playwright) — a user uploads a photo,
paints a stroke, runs a short inpainting, sees the result, downloads it and cancels a long run, while neither the
page nor the server contacts any host but 127.0.0.1."""

import ipaddress
import json
import os
import struct
import sys
import threading
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from netprior.errors import InputError, ResourceError
from netprior.io import save_image
from netprior.recipes.dip import fit
from netprior.inputs import load_observation
from netprior.serve import check_host
from netprior.serve.browser import editor_has_image, free_port, upload_to_editor
from netprior.serve.jobs import Job
from netprior.serve.workspace import Settings, Workspace, painted_mask

from helpers import run

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def test_cancel_stops_a_running_optimisation_within_a_step(photo64):
    job = Job(lambda j: fit(photo64, iters=100_000, progress=False, callback=j.callback), every=2).start()
    events = job.events()
    first = next(events)
    assert first.kind == "progress" and first.step % 2 == 0 and first.image.shape == (1, 3, 64, 64)
    job.cancel()
    t0 = time.perf_counter()
    last = [e for e in events][-1]
    assert last.kind == "cancelled" and 2 <= last.step < 1000
    job.join(timeout=5)
    assert not job.alive() and time.perf_counter() - t0 < 5  # the thread is gone: the CPU is free


def test_a_slow_reader_gets_the_newest_progress_not_a_backlog():
    def work(job):
        for step in range(1, 201):
            job.callback(step, torch.zeros(1, 3, 4, 4))
        return "x"

    job = Job(work, every=1).start()
    job.join(timeout=5)  # all 200 progress events and the end are queued before anything is read
    events = list(job.events())
    assert [(e.kind, e.value) for e in events] == [("done", "x")]  # the stale previews are skipped


def test_errors_in_the_job_reach_the_page_not_the_server(photo64):
    def work(job):
        raise InputError("bad mask")

    events = list(Job(work).start().events())
    assert events[-1].kind == "error" and str(events[-1].value) == "bad mask"


def test_painted_strokes_become_missing_pixels(tmp_path):
    layer = np.zeros((20, 30, 4), np.uint8)
    layer[5:8, 10:20] = (255, 0, 255, 255)
    layer[9, 0] = (255, 0, 255, 40)  # antialiased edge: painted too
    Image.fromarray(layer, "RGBA").save(tmp_path / "layer.png")
    m = painted_mask([str(tmp_path / "layer.png")], (20, 30))
    assert m.shape == (1, 1, 20, 30) and int((m == 0).sum()) == 31 and m[0, 0, 6, 15] == 0 and m[0, 0, 0, 0] == 1
    with pytest.raises(InputError, match="30x20"):
        painted_mask([str(tmp_path / "layer.png")], (32, 32))


def test_upload_limits_use_the_cli_max_side_rule_before_decoding(tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (300, 40)).save(big)
    ws = Workspace(Settings(max_side=256))
    try:
        with pytest.raises(ResourceError, match="exceeds --max-side 256"):
            ws.check_upload(big, "image")
        with pytest.raises(ResourceError, match="--max-side 256"):  # x4 output of a 100 px image
            Image.new("RGB", (100, 64)).save(tmp_path / "small.png")
            ws.check_upload(tmp_path / "small.png", "image", scale=4)
        with pytest.raises(InputError, match="upload an image first"):
            ws.check_upload(None, "image")
        with pytest.raises(ResourceError, match="exceeds --max-side 256"):  # header says 5000², never decoded
            ws.check_upload(_png_header(tmp_path / "huge.png", 5000, 5000), "image")
        with pytest.raises(InputError, match="decompression bomb"):  # refused from the header: 400 megapixels
            ws.check_upload(_png_header(tmp_path / "bomb.png", 20000, 20000), "image")
    finally:
        ws.close()
    assert not ws.root.exists()  # the temporary folder is removed
    with pytest.raises(ResourceError, match="exceeds --max-side 256"):
        load_observation(big, 256)


def _png_header(path, w, h):
    """A small PNG file whose header claims w×h pixels (what a decompression bomb looks like before decoding)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


def test_binding_beyond_loopback_warns():
    assert check_host("127.0.0.1") is None and check_host("localhost") is None and check_host("::1") is None
    assert "warning" in check_host("0.0.0.0")


# ----------------------------------------------------------------------------------------------- browser tests

class OutgoingConnections:
    """An audit hook recording every socket connection and name lookup this process makes to another host."""

    def __init__(self):
        self.foreign: list[str] = []
        sys.addaudithook(self)

    def __call__(self, event, args):
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and not _loopback(address[0]):
                self.foreign.append(f"connect {address}")
        elif event == "socket.getaddrinfo" and args[0] not in (None, "localhost") and not _loopback(args[0]):
            self.foreign.append(f"lookup {args[0]}")


def _loopback(host) -> bool:
    try:
        return ipaddress.ip_address(host if isinstance(host, str) else host.decode()).is_loopback
    except ValueError:
        return host in ("localhost", b"localhost")


@pytest.fixture(scope="module")
def browser_page():
    """A running server on a free loopback port and a headless chromium page on it; yields (page, server, the
    list of every URL the page requested, the server's outgoing-connection recorder)."""
    if not os.path.exists(CHROMIUM):
        if os.geteuid() != 0:
            pytest.skip(f"{CHROMIUM} is missing and installing it needs root (apt-get install chromium); "
                        "`make test` installs it when run as root")
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs the Debian package chromium)")
    pytest.importorskip("gradio", reason="the [ui] extra is not installed (pip install 'netprior[ui]')")
    sync_api = pytest.importorskip("playwright.sync_api")
    outgoing = OutgoingConnections()
    from netprior.serve import start

    server = start(Settings(max_side=256, preview_every=2), "127.0.0.1", free_port())
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
        page.on("request", lambda r: requests.append(r.url))
        page.goto(server.url)
        page.wait_for_load_state("networkidle")
        try:
            yield page, server, requests, outgoing
        finally:
            browser.close()
            root = server.workspace.root
            server.close()
            assert not root.exists()


def _job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == Job.THREAD_NAME and t.is_alive()]


def _upload_and_paint(page, src) -> None:
    """Upload ``src`` into the Restore tab's editor and paint one brush stroke across the middle of it."""
    upload_to_editor(page, "restore-editor", src)
    box = page.locator("#restore-editor canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 50, cy)
    page.mouse.down()
    page.mouse.move(cx, cy + 10)
    page.mouse.move(cx + 50, cy + 20)
    page.mouse.up()


def test_browser_inpaint_paint_run_download(browser_page, tmp_path, photo64):
    page, server, requests, outgoing = browser_page
    src = save_image(photo64, tmp_path / "face.png")
    _upload_and_paint(page, src)
    page.locator("#restore-cap input").fill("4")
    page.locator("#restore-run").click()
    page.wait_for_selector("#restore-status:has-text('Done')", timeout=60_000)
    assert "4 steps" in page.locator("#restore-status").inner_text()
    assert "Stopping rule" in page.locator("#restore-status").inner_text()
    assert page.locator("#restore-compare img").count() == 2  # before / after
    links = page.locator("#restore-files a")
    assert links.count() == 2
    downloaded = {}
    for i in range(2):
        with page.expect_download() as dl:
            links.nth(i).click()
        downloaded[dl.value.suggested_filename] = dl.value.path()
    png, side = downloaded["restored-inpaint.png"], downloaded["restored-inpaint.json"]
    assert Image.open(png).size == (64, 64)
    meta = json.loads(open(side).read())
    known = meta["config"]["known_fraction"]
    assert meta["config"]["task"] == "inpaint" and meta["steps"] == 4 and 0.5 < known < 0.99  # the stroke
    assert meta["inputs"]["image"]["sha256"] and meta["interface"] == "netprior serve"
    received = np.asarray(Image.open(meta["inputs"]["image"]["path"]).convert("RGB"))
    assert np.array_equal(received, np.asarray(Image.open(src)))  # the editor sent the upload pixel for pixel
    assert not [u for u in requests if not u.startswith(server.url.rstrip("/"))]
    assert not outgoing.foreign


def test_browser_cancel_stops_the_run(browser_page, tmp_path, photo64):
    page, server, requests, outgoing = browser_page
    if not editor_has_image(page, "restore-editor"):  # run on its own
        _upload_and_paint(page, save_image(photo64, tmp_path / "face.png"))
    page.locator("#restore-cap input").fill("100000")
    page.locator("#restore-run").click()
    page.wait_for_selector("#restore-status:has-text('Running')", timeout=20_000)
    assert len(_job_threads()) == 1
    page.locator("#restore-cancel").click()
    page.wait_for_selector("#restore-status:has-text('Cancelled at step')", timeout=10_000)
    deadline = time.time() + 5
    while _job_threads() and time.time() < deadline:
        time.sleep(0.1)
    assert not _job_threads()
    step = int(page.locator("#restore-status").inner_text().split("step")[1].split(";")[0])
    assert 2 <= step < 1000
    assert not [u for u in requests if not u.startswith(server.url.rstrip("/"))]
    assert not outgoing.foreign



def test_serve_command_passes_its_limits_and_warns_off_loopback(monkeypatch, capsys):
    import netprior.serve

    calls = []
    monkeypatch.setattr(netprior.serve, "start", lambda *a, **kw: calls.append((a, kw)))
    code, out, err = run(monkeypatch, capsys, "serve", "--host", "0.0.0.0", "--port", "8123", "--max-side", "300",
                         "--max-upload-mb", "7", "--preview-every", "5")
    (settings, host, port), kw = calls[0]
    assert code == 0 and host == "0.0.0.0" and port == 8123 and kw == {"block": True}
    assert (settings.max_side, settings.max_upload_mb, settings.preview_every) == (300, 7, 5)
    assert "warning: serving on 0.0.0.0" in err and "http://0.0.0.0:8123/" in out
