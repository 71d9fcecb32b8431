"""What every tab of the web app shares: the temporary folder, the upload rules, the mask painted in the editor,
the running job of each browser session and the PNG + JSON sidecar written for each result."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..io import check_size, image_size, save_image, to_uint8
from .jobs import Job

COMPUTE = {"concurrency_id": "compute", "concurrency_limit": 1}  # one job at a time per server (a queue slot)


@dataclass
class Settings:
    """Server-wide limits and defaults: ``max_side`` (the CLI's --max-side rule for every image and output),
    ``max_upload_mb`` (per file), ``device``, ``preview_every`` (steps between live previews)."""

    max_side: int = 1024
    max_upload_mb: int = 50
    device: str = "cpu"
    preview_every: int = 25


@dataclass
class Workspace:
    """A temporary folder (uploads in ``uploads/``, one folder per run in ``runs/``), removed by :meth:`close`;
    and the job each browser session is running, so that its Cancel button stops that job only."""

    settings: Settings
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="netprior-serve-")))
    _jobs: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(parents=True, exist_ok=True)

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_dir(self) -> Path:
        d = self.runs / uuid.uuid4().hex[:12]
        d.mkdir()
        return d

    def start(self, session: str, job: Job) -> Job:
        """Register and start ``job`` for a browser session (a previous one of that session is cancelled)."""
        with self._lock:
            old = self._jobs.get(session)
            if old is not None:
                old.cancel()
            self._jobs[session] = job
        return job.start()

    def cancel(self, session: str) -> bool:
        """Cancel the session's job; True when one was running."""
        with self._lock:
            job = self._jobs.pop(session, None)
        if job is None or not job.alive():
            return False
        job.cancel()
        return True

    def finish(self, session: str, job: Job) -> None:
        with self._lock:
            if self._jobs.get(session) is job:
                del self._jobs[session]

    def close(self) -> None:
        """Cancel every job and delete the temporary folder."""
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            job.cancel()
            job.join(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def check_upload(self, path: str | Path | None, what: str, scale: int = 1) -> Path:
        """An uploaded image's path, refused (from its header, before decoding) when missing or when ``scale`` ×
        its size exceeds the server's --max-side."""
        if not path:
            raise InputError(f"{what}: upload an image first")
        path = Path(path)
        h, w = image_size(path)
        check_size(h * scale, w * scale, self.settings.max_side, what=what)
        return path


def painted_mask(layers: list | None, size: tuple[int, int]) -> torch.Tensor:
    """The inpainting mask from the image editor's layers (RGBA files): pixels painted on any layer (alpha > 0)
    are missing (0), the rest known (1); returned as (1, 1, H, W) for an image of ``size`` (H, W)."""
    painted = np.zeros(size, dtype=bool)
    for layer in layers or []:
        if layer is None:
            continue
        img = Image.open(layer)
        if (img.height, img.width) != tuple(size):
            raise InputError(f"the painted mask is {img.width}x{img.height} but the image is {size[1]}x{size[0]}")
        painted |= np.asarray(img.convert("RGBA"))[..., 3] > 0
    return torch.from_numpy(~painted).float()[None, None]


def preview(x: torch.Tensor, min_side: int = 256) -> np.ndarray:
    """A tensor image (1, C, H, W) in [0, 1] as the uint8 array Gradio shows, enlarged by an integer factor
    (nearest neighbour, pixels stay visible) until its shorter side reaches ``min_side`` — for display only; the
    files to download keep the real size."""
    k = max(1, -(-min_side // min(x.shape[-2:])))
    return to_uint8(torch.nn.functional.interpolate(x[:1].float(), scale_factor=k, mode="nearest") if k > 1 else x[:1])


def upscale_nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour enlargement of a small observation to the output size, for the before/after view."""
    return torch.nn.functional.interpolate(x, size=size, mode="nearest")


def write_outputs(run_dir: Path, name: str, image: torch.Tensor, *, config: dict, inputs: dict, result=None,
                  metrics: dict | None = None, extra: dict | None = None) -> list[str]:
    """Write ``name``.png and its JSON sidecar into ``run_dir``; return both paths (for the download box)."""
    from ..report import write_sidecar

    out = save_image(image[:1], run_dir / f"{name}.png")
    side = write_sidecar(out, config=config, result=result, metrics=metrics, inputs=inputs,
                         extra={"interface": "netprior serve", **(extra or {})})
    return [str(out), str(side)]
