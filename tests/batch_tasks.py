"""Helpers for the batch tests, importable by worker processes (local pool and Ray): a folder of tiny inputs and a
per-image command that kills its own worker process once."""

import os
import signal
from pathlib import Path

from skimage import data

from netprior.cli.restore import denoise_cmd
from netprior.io import from_numpy, save_image

KILLER = "batch_tasks:denoise_or_die_once"


def make_folder(root: Path) -> Path:
    """Three 64×64 photo crops (one in a subfolder, one a JPEG-named PNG) and a corrupt PNG; also a text file that
    is not an input."""
    (root / "sub").mkdir(parents=True)
    save_image(from_numpy(data.astronaut()[60:124, 190:254]), root / "a.png")
    save_image(from_numpy(data.coffee()[100:164, 250:314]), root / "sub" / "b.png")
    save_image(from_numpy(data.chelsea()[100:164, 100:164]), root / "sub" / "c.tif")
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (root / "notes.txt").write_text("not an image")
    return root


def denoise_or_die_once(image, output, marker, **flags):
    """``restore denoise`` — except that the first call (across all workers) to create ``marker`` kills its own
    worker process mid-run, as a crashed or pre-empted worker would."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return denoise_cmd(image=image, output=output, **flags)
    os.kill(os.getpid(), signal.SIGKILL)
