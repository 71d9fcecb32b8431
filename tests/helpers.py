"""Small helpers shared by the test modules (fixtures live in conftest.py)."""

import sys

import pytest
import torch
import torch.nn.functional as F

from netprior.cli import main


def run(monkeypatch, capsys, *args):
    """Run the netprior CLI in-process, as a user would from the shell: returns (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["netprior", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def as_input(image, size: int = 224) -> torch.Tensor:
    """An (H, W, 3) uint8 photo as a (1, 3, size, size) float batch in [0, 1] (antialiased bilinear resize)."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
