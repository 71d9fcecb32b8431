"""IMAGINE and DeepInversion with the image in the target's colour axes and a 1/f Fourier basis (``spectral``,
:class:`netprior.parametrize.SpectralPixels`; Olah et al., "Feature Visualization", Distill 2017) against
DeepInversion's pixels in the classifier's normalised space (``pixels``): same preset, steps and seed.

    .venv/bin/python benchmarks/imagine_spectral.py [--size 128] [--images chelsea,bird] [--seed 0]

Scores as in benchmarks/imagine.py (confidence, held-out confidence over 8 unseen crops, high-frequency power ÷
the target's) plus the grain of the colours: *chroma high-freq.* = share of the chroma's (x − its grey) spectral
power above half Nyquist ÷ the target's (colour speckle ≫ 1), and the Lite0 feature distance to the target.
Writes benchmarks/results/imagine_spectral.json, .md and imagine_spectral.png (one row per image: target, IMAGINE
pixels, IMAGINE spectral, DeepInversion pixels, DeepInversion spectral).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
from imagine import OUT, held_out_confidence, load

from netprior.backbones import get_backbone
from netprior.evaluation.distance import evaluate
from netprior.evaluation.grain import high_frequency_share
from netprior.inputs import fit_square
from netprior.io import save_image
from netprior.recipes.imagine import PRESETS, deepinversion, imagine

RUNS = (("IMAGINE", imagine, "pixels"), ("IMAGINE", imagine, "spectral"),
        ("DeepInversion", deepinversion, "pixels"), ("DeepInversion", deepinversion, "spectral"))
COLUMNS = (("confidence", "confidence y* (optimised)"), ("held_out_confidence", "held-out confidence y*"),
           ("high_frequency_ratio", "high-freq. power ÷ target's"), ("chroma_high_frequency_ratio",
                                                                    "chroma high-freq. ÷ target's"),
           ("distance_to_target", "Lite0 distance to target"), ("seconds", "s / image"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--images", default="chelsea,bird")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    bb = get_backbone("lite0")
    command = "python benchmarks/imagine_spectral.py " + " ".join(sys.argv[1:])
    load_avg = [round(v, 1) for v in os.getloadavg()]
    rows, sheet, t_start = [], [], time.time()
    for name in args.images.split(","):
        target = fit_square(load(name), args.size)
        cls = evaluate(bb, target, 0)["predicted_class"]
        images = [target]
        for method, fn, param in RUNS:
            settings = PRESETS[args.preset].override(size=args.size, parametrization=param)
            r = fn(target, backbone=bb, settings=settings, seed=args.seed, cls=cls, progress=False)
            x = r.image
            rows.append({"image": name, "method": method, "parametrization": param, "target_class": cls,
                         "seconds": sum(res.seconds for res in r.results.values()),
                         "confidence": r.metrics["confidence"],
                         "held_out_confidence": held_out_confidence(bb, x, cls),
                         "high_frequency_ratio": high_frequency_share(x) / high_frequency_share(target),
                         "chroma_high_frequency_ratio":
                             high_frequency_share(x, chroma=True) / high_frequency_share(target, chroma=True),
                         "distance_to_target": r.metrics["distance_to_target"]})
            images.append(x)
            print(name, method, param, {k: round(v, 3) for k, v in rows[-1].items() if isinstance(v, float)},
                  flush=True)
        sheet.append(torch.cat(images, -1))
        save_image(torch.cat(sheet, -2), OUT / "imagine_spectral.png")
        result = {"command": command, "load_average": load_avg, "settings": vars(args),
                  "preset": PRESETS[args.preset].__dict__, "wall_seconds": time.time() - t_start, "rows": rows}
        (OUT / "imagine_spectral.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        (OUT / "imagine_spectral.md").write_text(markdown(result))


def markdown(result: dict) -> str:
    lines = ["## IMAGINE / DeepInversion: spectral (colour axes + 1/f basis) vs pixel parametrization", "",
             f"Command: `{result['command']}`; CPU, 1 thread, load average at start {result['load_average']} "
             f"(2 cores shared with other jobs); wall time {result['wall_seconds'] / 60:.1f} min.  Preset "
             f"`{result['settings']['preset']}` at {result['settings']['size']} px (its multi-resolution start, "
             f"jitter, TV weight and steps), seed {result['settings']['seed']}, Lite0; only the parametrization "
             "differs: *pixels* = DeepInversion's (the classifier's normalised space, N(0, 1) start), *spectral* = "
             "the target's colour axes and a 1/f Fourier basis from 1/f noise with the target's colours (Olah et al. "
             "2017).  Scores: see benchmarks/imagine.py; *chroma high-freq.* = share of the chroma's power above "
             "half Nyquist ÷ the target's.  Paper (Wang et al. 2021, Fig. 1/4): natural photos at 224 px.", "",
             "| image | method | parametrization | " + " | ".join(h for _, h in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 3) + "|"]
    for r in result["rows"]:
        cells = " | ".join(f"{r[k]:.0f}" if k == "seconds" else f"{r[k]:.3f}" for k, _ in COLUMNS)
        lines.append(f"| {r['image']} | {r['method']} | {r['parametrization']} | {cells} |")
    lines += ["", "Sheet (rows: the images; columns: target, IMAGINE pixels, IMAGINE spectral, DeepInversion pixels, "
              "DeepInversion spectral): [imagine_spectral.png](results/imagine_spectral.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
