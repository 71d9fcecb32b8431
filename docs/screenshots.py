"""Screenshots of the three tabs of ``netprior serve`` for the README, each after a real (short) run, taken with
Debian's chromium driven by Playwright: docs/serve-restore.png, docs/serve-texture.png, docs/serve-gan.png.

    python docs/screenshots.py [--data /work/shared/data] [--steps 300] [--train-iters 80]

Restore: a 128×128 crop of kate.png with a stroke painted over it, inpainted for --steps steps.  Texture/style: a
texture network and a stylisation network trained for --train-iters steps here (so the samples are rough), sampled
at 192² and applied to a photo.  GAN: the face of CSet14/face.png inverted with the two-step method.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upload_to_editor(page, elem_id: str, path, tries: int = 3) -> None:
    """Put an image into a Gradio ImageEditor and wait until it is on the canvas (its Undo button turns on); the
    file is set again when a heavily loaded page missed it."""
    from playwright.sync_api import TimeoutError as PageTimeout

    for attempt in range(tries):
        page.locator(f"#{elem_id} input[type=file]").first.set_input_files(str(path))
        try:
            page.wait_for_selector(f"#{elem_id} button[aria-label=Undo]:not([disabled])", state="attached",
                                   timeout=40_000)
            return
        except PageTimeout:
            if attempt == tries - 1:
                raise


def crop(src: Path, box: tuple[int, int, int, int], size: int, out: Path) -> Path:
    from PIL import Image

    Image.open(src).convert("RGB").crop(box).resize((size, size), Image.LANCZOS).save(out)
    return out


def train_models(data: Path, tmp: Path, iters: int) -> tuple[Path, Path]:
    """A texture model and a style model, trained briefly through the CLI (the same files users upload)."""
    from netprior.cli import app

    exemplar = crop(data / "CSet14/baboon.png", (100, 220, 356, 476), 160, tmp / "fur.png")
    pool = tmp / "pool"
    pool.mkdir(exist_ok=True)
    for name in ("CSet5/bird.png", "CSet5/butterfly.png", "CSet14/monarch.png", "CSet14/flowers.png"):
        crop(data / name, (0, 0, 256, 256), 96, pool / Path(name).name)
    tex, sty = tmp / "fur.safetensors", tmp / "style.safetensors"
    if tex.exists() and sty.exists():  # trained by an earlier run with the same --workdir
        return tex, sty
    small = ["--size", "96", "--batch", "2", "--iters", str(iters), "--layers", "block0,block1,block3,block5",
             "--quiet"]
    for args in (["texture", "train", str(exemplar), "-o", str(tex), *small],
                 ["style", "train", str(exemplar), "--content-dir", str(pool), "-o", str(sty), "--pool", "4",
                  *small]):
        app(args, standalone_mode=False)
    return tex, sty


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--train-iters", type=int, default=80)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "netprior-shots",
                    help="inputs and trained models (reused when present)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from netprior.serve import Settings, start

    tmp = args.workdir
    tmp.mkdir(parents=True, exist_ok=True)
    kate = crop(args.data / "dip/kate.png", (180, 120, 308, 248), 128, tmp / "kate.png")
    face = crop(args.data / "CSet14/face.png", (0, 0, 276, 276), 128, tmp / "face.png")
    content = crop(args.data / "CSet5/head.png", (0, 0, 280, 280), 128, tmp / "head.png")
    tex, sty = train_models(args.data, tmp, args.train_iters)
    server = start(Settings(preview_every=10), "127.0.0.1", free_port())
    requests: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server.url)
            page.wait_for_load_state("networkidle")

            upload_to_editor(page, "restore-editor", kate)
            box = page.locator("#restore-editor canvas").first.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(cx - 90, cy - 60)
            page.mouse.down()
            for i in range(1, 10):
                page.mouse.move(cx - 90 + 20 * i, cy - 60 + 14 * i)
            page.mouse.up()
            page.locator("#restore-cap input").fill(str(args.steps))
            page.locator("#restore-run").click()
            try:
                page.wait_for_selector("#restore-status:has-text('Done')", timeout=900_000)
            finally:
                page.screenshot(path=str(args.out / "serve-restore.png"), full_page=True)
            page.screenshot(path=str(args.out / "serve-restore.png"), full_page=True)

            page.get_by_role("tab", name="Texture / style").click()
            with page.expect_response(lambda r: "/gradio_api/upload" in r.url):
                page.locator("#texture-model input[type=file]").set_input_files(str(tex))
            page.locator("#texture-size input").fill("192")
            page.locator("#texture-run").click()
            with page.expect_response(lambda r: "/gradio_api/upload" in r.url):
                page.locator("#style-model input[type=file]").set_input_files(str(sty))
            with page.expect_response(lambda r: "/gradio_api/upload" in r.url):
                page.locator("#style-content input[type=file]").set_input_files(str(content))
            page.wait_for_selector("#texture-gallery img", timeout=300_000)
            page.locator("#style-run").click()
            page.wait_for_selector("#style-output img", timeout=300_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(args.out / "serve-texture.png"), full_page=True)

            page.get_by_role("tab", name="GAN").click()
            with page.expect_response(lambda r: "/gradio_api/upload" in r.url):
                page.locator("#gan-face input[type=file]").set_input_files(str(face))
            page.locator("#gan-steps input").fill("150")
            page.locator("#gan-invert-run").click()
            page.wait_for_selector("#gan-status:has-text('Done')", timeout=900_000)
            page.screenshot(path=str(args.out / "serve-gan.png"), full_page=True)
            browser.close()
    finally:
        server.close()
    foreign = sorted({u for u in requests if not u.startswith(server.url.rstrip("/"))})
    print(f"{len(requests)} requests by the page, outside 127.0.0.1: {foreign or 'none'}")
    for name in ("restore", "texture", "gan"):
        print(f"wrote {args.out / f'serve-{name}.png'}")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"{time.time() - t0:.0f} s")
