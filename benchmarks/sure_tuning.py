"""Fewer steps to the peak for the SURE denoising default (issue 17): PSNR of the returned (averaged) output
against the *step*, for variants of the ``denoise-sure`` preset's learning rate and output averaging, on the
128² crops of benchmarks/speed.py (σ = 25, noise seed 0), and where the preset's own stopping rule (risk
minimum at the estimated σ) stops and what it returns.  Steps, not seconds, so the table does not depend on the
machine or its load; seconds follow from the measured seconds per step (results/speed.md).

    python benchmarks/sure_tuning.py [--device cuda] [--images dip/F16_GT.png CSet14/lenna.png CSet14/baboon.png]

Writes results/sure_tuning.json and results/sure_tuning.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from speed import noisy_crop

from netprior.metrics import estimate_noise_sigma
from netprior.operators import GaussianNoise
from netprior.recipes import dip

OUT = Path(__file__).resolve().parent / "results"
VARIANTS = {"preset (lr 0.01, ema 0.99)": {}, "lr 0.02": {"lr": 0.02}, "lr 0.03": {"lr": 0.03},
            "ema 0.97": {"ema": 0.97}, "lr 0.02, ema 0.97": {"lr": 0.02, "ema": 0.97},
            "lr 0.03, ema 0.97": {"lr": 0.03, "ema": 0.97}, "lr 0.02, ema 0.95": {"lr": 0.02, "ema": 0.95}}
MARKS = (200, 300, 350, 400, 450, 500, 600)


def run(name: str, overrides: dict, image: str, device: str, cap: int) -> dict:
    x, y = noisy_crop(image, 128)
    preset = replace(dip.get_preset("denoise-sure"), **overrides)
    r = dip.restore(y, GaussianNoise(25), preset, iters=cap, sigma=estimate_noise_sigma(y), reference=x,
                    device=device, progress=False, metrics_every=10)
    h = r.result.history
    curve = dict(zip(h["psnr_step"], h["psnr_avg"]))
    stop = r.result.stop or {}
    return {"variant": name, "image": image, "overrides": overrides, "steps": r.result.steps,
            "stopped_at": stop.get("stopped_at"), "selected_step": stop.get("selected_step"),
            "psnr_returned": round(r.metrics["psnr"], 2),
            "psnr_at": {s: round(curve[s], 2) for s in MARKS if s in curve}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--images", nargs="*", default=["dip/F16_GT.png", "CSet14/lenna.png", "CSet14/baboon.png"])
    ap.add_argument("--cap", type=int, default=600)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="names in VARIANTS")
    args = ap.parse_args()
    t0 = time.time()
    rows = []
    for name in args.variants:
        for image in args.images:
            rows.append(run(name, VARIANTS[name], image, args.device, args.cap))
            print(json.dumps(rows[-1]), flush=True)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    OUT.mkdir(exist_ok=True)
    (OUT / "sure_tuning.json").write_text(json.dumps({"device": device, "seconds": round(time.time() - t0),
                                                      "cap": args.cap, "rows": rows}, indent=1))
    lines = ["# SURE default: PSNR (dB) of the averaged output by step, per variant", "",
             f"128² crops, σ = 25 (noise seed 0), cap {args.cap}; run on {device} (steps do not depend on it). "
             "`returned` = what the preset's risk-minimum rule returns, at step `stop`. Command: `python "
             "benchmarks/sure_tuning.py`.", "",
             "| variant | image | " + " | ".join(f"step {s}" for s in MARKS) + " | stop | returned |",
             "|---|---|" + "---|" * (len(MARKS) + 2)]
    lines += [f"| {r['variant']} | {Path(r['image']).stem} | " + " | ".join(str(r["psnr_at"].get(s, "")) for s in MARKS)
              + f" | {r['selected_step']} | {r['psnr_returned']} |" for r in rows]
    (OUT / "sure_tuning.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
