"""Why the SURE default falls short on some images (issue 17): every step of a ``denoise-sure`` run without
stopping — PSNR of the raw output x_t and of the averaged output x̄_t, the fit ||x_t − y||²/n and the divergence
per value of the SURE term (both relative to σ²), the SURE risk estimate — and where the preset's risk-minimum rule
would stop, on 128² crops with σ = 25 noise (the draw of benchmarks/dip.py, seed 0; clipped to [0, 1] as in the DIP
reference code).  σ is estimated from the image as ``restore denoise`` does, or given (``--sigma``).

    python benchmarks/sure_trace.py --images CSet5/baby.png CSet5/bird.png dip/F16_GT.png [--sigma 25] [--steps 200]

Steps do not depend on the machine.  Rows merge by (image, σ source); writes results/sure_trace.json,
results/sure_trace.md and results/sure_trace.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from speed import noisy_crop

from netprior.recipes import dip
from netprior.stopping import RiskMinimum

OUT = Path(__file__).resolve().parent / "results"
MARKS = (25, 50, 75, 100, 125, 150, 175, 200, 250, 300)


def trace(image: str, steps: int, sigma255: float | None) -> dict:
    x, y = noisy_crop(image, 128)
    r = dip.denoise(y, sigma255=sigma255, reference=x, progress=False, metrics_every=1, stopping="none",
                    iters=steps)
    h = r.result.history
    s2 = (r.config["noise_sigma255"] / 255) ** 2
    rule = RiskMinimum()
    for t, (risk, div) in enumerate(zip(h["sure"], h["divergence"]), 1):
        if rule.update(t, torch.zeros(1), torch.zeros(1), risk, {"divergence": div}):
            break
    return {"image": image, "sigma": "given" if sigma255 else "estimated", "sigma255": r.config["noise_sigma255"],
            "clipped": round(float(((y <= 0) | (y >= 1)).float().mean()), 3),
            "psnr": [round(v, 2) for v in h["psnr"]], "psnr_avg": [round(v, 2) for v in h["psnr_avg"]],
            "fit": [round(v / s2, 4) for v in h["fit"]], "divergence": [round(v, 4) for v in h["divergence"]],
            "sure": [round(v / s2, 4) for v in h["sure"]], "rule_stop": rule.stopped_at,
            "rule_step": rule.best_step, "command": "python benchmarks/sure_trace.py " + " ".join(sys.argv[1:])}


def write(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (OUT / "sure_trace.json").write_text(json.dumps(rows))
    L = ["## Why SURE falls short on some images: the run step by step (issue 17)", "",
         "`denoise-sure` without stopping on 128² crops, σ = 25 (clipped to [0, 1]); raw = PSNR of x_t, avg = of "
         "the averaged output x̄_t (EMA 0.97), fit = ||x_t − y||²/(nσ²), div = divergence per value, risk = "
         "SURE/σ²; `rule` = where the risk-minimum rule stops and the step it returns. Steps do not depend on the "
         "machine.", ""]
    for r in rows:
        L += [f"**{r['image']}** (σ {r['sigma']}: {r['sigma255']:.1f}; {100 * r['clipped']:.1f} % of the noisy "
              f"values clipped; raw peak {max(r['psnr']):.2f} dB at step {int(np.argmax(r['psnr'])) + 1}, avg peak "
              f"{max(r['psnr_avg']):.2f} dB at step {int(np.argmax(r['psnr_avg'])) + 1}; rule stops at "
              f"{r['rule_stop']} and returns step {r['rule_step']}: "
              f"{r['psnr_avg'][r['rule_step'] - 1]:.2f} dB) — `{r['command']}`", "",
              "| step | " + " | ".join(str(s) for s in MARKS if s <= len(r["psnr"])) + " |",
              "|---|" + "---|" * sum(s <= len(r["psnr"]) for s in MARKS)]
        for key in ("psnr", "psnr_avg", "fit", "divergence", "sure"):
            L.append(f"| {key} | " + " | ".join(f"{r[key][s - 1]:.3g}" for s in MARKS if s <= len(r["psnr"])) + " |")
        L.append("")
    (OUT / "sure_trace.md").write_text("\n".join(L) + "\n")
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.6), squeeze=False)
    for ax, r in zip(axes[0], rows):
        t = np.arange(1, len(r["psnr"]) + 1)
        ax.plot(t, r["psnr"], lw=0.8, label="PSNR x_t")
        ax.plot(t, r["psnr_avg"], lw=1.2, label="PSNR x̄_t")
        ax.axvline(r["rule_step"], color="k", ls="--", lw=0.8, label=f"rule returns {r['rule_step']}")
        ax.set(title=f"{Path(r['image']).stem}, σ {r['sigma']}", xlabel="step", ylabel="dB", ylim=(15, None))
        ax2 = ax.twinx()
        ax2.plot(t, r["sure"], color="C3", lw=0.8, label="SURE/σ²")
        ax2.plot(t, r["fit"], color="C2", lw=0.8, label="fit/σ²")
        ax2.set_ylim(-1, 3)
        ax.legend(fontsize=6, loc="lower left")
        ax2.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(OUT / "sure_trace.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", nargs="+", default=["CSet5/baby.png", "CSet5/bird.png", "dip/F16_GT.png"])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--sigma", type=float, default=None, help="the noise σ on 0-255 (default: estimated)")
    args = ap.parse_args()
    path = OUT / "sure_trace.json"
    for image in args.images:
        row = trace(image, args.steps, args.sigma)
        rows = json.loads(path.read_text()) if path.exists() else []
        rows = [r for r in rows if (r["image"], r["sigma"]) != (row["image"], row["sigma"])] + [row]
        write(rows)
        print(image, row["sigma"], max(row["psnr"]), row["rule_step"], flush=True)


if __name__ == "__main__":
    main()
