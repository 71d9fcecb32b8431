"""SURE on noise clipped to [0, 1] (issue 17): what each of the three changes to the ``denoise-sure`` default buys.

Photographs, and the DIP reference code's noisy images, are clipped to [0, 1].  Three things went wrong there:
the noise estimate counted clipped values (which carry no noise) and came out low; the SURE loss rewarded a
negative slope of the network at clipped values (the divergence term is unbounded there), so the run collapsed;
and the average (EMA 0.97) still carried the network's random start when the rule chose its step.  Each row adds
one fix, on 128² crops with σ = 25 (noise seed 0, the draw of benchmarks/dip.py), the preset's risk-minimum rule:

    A  before: SURE over every value, σ from scikit-image's wavelet MAD over all coefficients
       (netprior.metrics.estimate_noise_sigma), plain EMA; today's rule
    B  A + SURE over the unclipped values only (netprior.sure: divergence probe and −σ² term over U)
    C  B + the noise estimate before clipping (netprior.metrics.estimate_noise_sigma_before_clipping)
    D  C + the EMA warm-up (decay min(0.97, (1 + t)/(10 + t))) = the shipped default
    E  D with the true σ = 25 given (``--sigma 25``), which returned step 34 (15.8 dB on baby) before

and a table of the noise estimates on every CSet crop.  Writes results/sure_clipping.json and .md.

    python benchmarks/sure_clipping.py [--images CSet5/baby.png CSet5/bird.png dip/F16_GT.png] [--parts sigma,runs]
    python benchmarks/sure_clipping.py --parts figure --images CSet5/baby.png CSet5/bird.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from cset_denoise import images as cset_images
from speed import noisy_crop, provenance

from netprior import sure as sure_module
from netprior.metrics import estimate_noise_sigma, estimate_noise_sigma_before_clipping
from netprior.recipes import dip

OUT = Path(__file__).resolve().parent / "results"
VARIANTS = {"A": "before", "B": "+ SURE over unclipped values", "C": "+ clipping-robust σ",
            "D": "+ EMA warm-up (default)", "E": "default, true σ given"}


def run(name: str, variant: str, images: dict | None = None) -> dict:
    x, y = noisy_crop(name, 128)
    preset = dip.get_preset(dip.DEFAULT_DENOISE)
    if variant in "ABC":
        preset = preset.override(ema_warmup=0)
    sigma255 = {"A": estimate_noise_sigma(y) * 255, "B": estimate_noise_sigma(y) * 255, "E": 25.0}.get(variant)
    every_value = variant == "A"
    original = sure_module.uncensored
    if every_value:  # the ablation only: count every value as uncensored, i.e. plain SURE
        sure_module.uncensored = torch.ones_like
    try:
        r = dip.denoise(y, sigma255=sigma255, preset=preset, reference=x, progress=False, metrics_every=1)
    finally:
        sure_module.uncensored = original
    h, stop = r.result.history, r.result.stop
    if images is not None:
        images[(name, variant)] = (x, y, r.image)
    return {"image": name, "variant": variant, "sigma255": round(r.config["noise_sigma255"], 2),
            "psnr": round(r.metrics["psnr"], 2), "selected_step": stop["selected_step"],
            "stopped_at": stop["stopped_at"], "steps": r.result.steps,
            "raw_peak": round(max(h["psnr"]), 2), "raw_peak_step": int(np.argmax(h["psnr"])) + 1,
            "min_divergence": round(min(h["divergence"]), 3)}


def figure(names: list[str]) -> None:
    """noisy | variant A (before) | variant D (the default) | clean, one row per crop."""
    from netprior.io import save_image

    images: dict = {}
    for name in names:
        for v in "AD":
            run(name, v, images)
    rows = [torch.cat([images[(n, "A")][1], images[(n, "A")][2], images[(n, "D")][2], images[(n, "A")][0]], -1)
            for n in names]
    save_image(torch.cat(rows, -2), OUT / "sure_clipping.png")


def write(data: dict) -> None:
    (OUT / "sure_clipping.json").write_text(json.dumps(data, indent=1))
    L = ["## SURE on clipped noise: the three fixes one by one (issue 17)", "",
         "128² crops, σ = 25 (noise seed 0), clipped to [0, 1]; the `denoise-sure` preset and its risk-minimum rule "
         "(cap 300 steps). PSNR of the returned image; `raw peak` = the best single output x_t of the run (needs "
         "the clean image). Steps and PSNR do not depend on the machine. Variants: "
         + "; ".join(f"**{k}** {v}" for k, v in VARIANTS.items()) + ".", ""]
    for c in dict.fromkeys(r["command"] for r in data.get("runs", [])):
        L.append(f"- `{c}`")
    runs = {(r["image"], r["variant"]): r for r in data.get("runs", [])}
    names = list(dict.fromkeys(r["image"] for r in data.get("runs", [])))
    if names:
        L += ["", "| image | " + " | ".join(f"{k}: {v}" for k, v in VARIANTS.items()) + " |",
              "|---|" + "---|" * len(VARIANTS)]
        for n in names:
            cells = []
            for k in VARIANTS:
                r = runs.get((n, k))
                cells.append("–" if r is None else
                             f"{r['psnr']:.2f} dB @{r['selected_step']} (stop {r['stopped_at'] or 'cap'}; σ̂ "
                             f"{r['sigma255']:.1f}; raw peak {r['raw_peak']:.2f}@{r['raw_peak_step']}; min div "
                             f"{r['min_divergence']:.2f})")
            L.append(f"| {n} | " + " | ".join(cells) + " |")
    if data.get("figure"):
        L += ["", f"![noisy, A, D, clean](sure_clipping.png) — columns: noisy | A (before) | D (default) | clean; "
              f"`{data['figure']}`"]
    if data.get("sigma"):
        s = data["sigma"]
        L += ["", "### Noise estimates on every CSet crop (true σ = 25)", "",
              f"`{s[0]['command']}`", "", "| crop | clipped values | `estimate_noise_sigma` (scikit-image, all "
              "coefficients) | `estimate_noise_sigma_before_clipping` (coefficients inside (0, 1)) |", "|---|---|---|---|"]
        L += [f"| {r['image']} | {100 * r['clipped']:.1f} % | {r['skimage']:.1f} | {r['netprior']:.1f} |" for r in s]
        for key in ("skimage", "netprior"):
            v = np.array([r[key] for r in s])
            L.append(f"| **{key}: mean, range** | | " if key == "skimage" else f"| **{key}: mean, range** | | | ")
            L[-1] += f"{v.mean():.2f}, {v.min():.1f}–{v.max():.1f} |"
    (OUT / "sure_clipping.md").write_text("\n".join(L) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", nargs="*", default=["CSet5/baby.png", "CSet5/bird.png", "dip/F16_GT.png"])
    ap.add_argument("--variants", default="ABCDE")
    ap.add_argument("--parts", default="sigma,runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cmd = "python benchmarks/sure_clipping.py " + " ".join(sys.argv[1:])
    path = OUT / "sure_clipping.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    if "sigma" in args.parts:
        rows = []
        for name in cset_images() + ["dip/F16_GT.png"]:
            _, y = noisy_crop(name, 128)
            rows.append({"image": name, "clipped": round(float(((y <= 0) | (y >= 1)).float().mean()), 3),
                         "skimage": round(estimate_noise_sigma(y) * 255, 2),
                         "netprior": round(estimate_noise_sigma_before_clipping(y) * 255, 2), "command": cmd})
        data["sigma"] = rows
        write(data)
    if "figure" in args.parts:
        figure(args.images)
        data["figure"] = cmd
        write(data)
    if "runs" in args.parts:
        for name in args.images:
            for v in args.variants:
                load = os.getloadavg()[0]
                row = {**run(name, v), **provenance(cmd, 1, load)}
                data["runs"] = [r for r in data.get("runs", []) if (r["image"], r["variant"]) != (name, v)] + [row]
                write(data)
                print(row, flush=True)


if __name__ == "__main__":
    main()
