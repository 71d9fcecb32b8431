"""IMAGINE on one image at the paper's step budget and size on a CPU: chelsea at 224 px, Lite0, the cpu preset's
Lite0 settings (spectral parametrization, α = 1, lr 0.1, jitter 30 px + flips, lr warm-up) with DeepInversion's
half-resolution start — 2000 steps at 112 px, then the paper's 2000 warm-up + 2000 adversarial steps at 224 px.

    .venv/bin/python benchmarks/imagine_full.py [--seeds 0,1] [--work DIR]

Each seed's images and time are kept in the work directory (default benchmarks/out/imagine_full, ignored by git;
a finished seed is read back, an unfinished one resumes from its checkpoint).  Scores as in benchmarks/imagine.py
and benchmarks/imagine_spectral.py, computed from the saved PNGs, for the warm-up (stage 1) and the final
(stage 2) image.  Writes benchmarks/results/imagine_full.json, .md and imagine_full.png (target, then warm-up and
final image of each seed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from imagine import OUT, held_out_confidence, load

from netprior.backbones import get_backbone
from netprior.evaluation.distance import evaluate, feature_distance
from netprior.evaluation.grain import high_frequency_share
from netprior.inputs import fit_square
from netprior.io import load_image, save_image, write_json
from netprior.recipes.imagine import PRESETS, imagine

SIZE = 224
SETTINGS = PRESETS["cpu"].override(size=SIZE, jitter=30, lowres_factor=2, iters_lowres=2000, iters_warmup=2000,
                                   iters_adversarial=2000)
COLUMNS = (("confidence", "confidence y* (optimised)"), ("held_out_confidence", "held-out confidence y*"),
           ("high_frequency_ratio", "high-freq. ÷ target's"), ("chroma_high_frequency_ratio",
                                                              "chroma high-freq. ÷ target's"),
           ("distance_to_target", "Lite0 distance to target"))


def run_seed(target: torch.Tensor, bb, cls: int, seed: int, work: Path) -> dict:
    """Synthesise (or read back) one seed's warm-up and final image; returns its time and load."""
    info = work / f"seed{seed}.json"
    if not info.exists():
        load_avg = [round(v, 1) for v in os.getloadavg()]
        t = time.time()
        r = imagine(target, backbone=bb, settings=SETTINGS, seed=seed, cls=cls, progress=True,
                    checkpoint=str(work / f"seed{seed}.ckpt"))
        save_image(r.image, work / f"seed{seed}.png")
        save_image(r.outputs["warmup"], work / f"seed{seed}_warmup.png")
        write_json({"seconds": time.time() - t, "load_average_at_start": load_avg,
                    "load_average_at_end": [round(v, 1) for v in os.getloadavg()]}, info)
    return json.loads(info.read_text())


def scores(bb, x: torch.Tensor, target: torch.Tensor, cls: int) -> dict:
    m = evaluate(bb, x, cls, reference=target)
    return {"confidence": m["confidence"], "held_out_confidence": held_out_confidence(bb, x, cls),
            "high_frequency_ratio": high_frequency_share(x) / high_frequency_share(target),
            "chroma_high_frequency_ratio": high_frequency_share(x, chroma=True) / high_frequency_share(target,
                                                                                                       chroma=True),
            "distance_to_target": m["distance_to_target"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--work", type=Path, default=Path(__file__).parent / "out" / "imagine_full")
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    bb = get_backbone("lite0")
    target = fit_square(load("chelsea"), SIZE)
    cls = evaluate(bb, target, 0)["predicted_class"]
    rows, sheet, finals = [], [target], []
    for seed in (int(s) for s in args.seeds.split(",")):
        info = run_seed(target, bb, cls, seed, args.work)
        for stage, suffix in (("warm-up", "_warmup"), ("final", "")):
            x = load_image(args.work / f"seed{seed}{suffix}.png")
            rows.append({"seed": seed, "stage": stage, **info, **scores(bb, x, target, cls)})
            sheet.append(x)
        finals.append(x)
    pairs = [(a, b) for i, a in enumerate(finals) for b in finals[i + 1:]]
    result = {"command": "python benchmarks/imagine_full.py " + " ".join(sys.argv[1:]), "target_class": cls,
              "target_held_out_confidence": held_out_confidence(bb, target, cls), "settings": SETTINGS.__dict__,
              "rows": rows, "diversity": float(sum(feature_distance(bb, a, b) for a, b in pairs) / len(pairs))
              if pairs else None}
    save_image(torch.cat(sheet, -1), OUT / "imagine_full.png")
    write_json(result, OUT / "imagine_full.json")
    (OUT / "imagine_full.md").write_text(markdown(result))


def markdown(result: dict) -> str:
    lines = ["## IMAGINE at the paper's step budget, 224 px, Lite0 (CPU)", "",
             f"Command: `{result['command']}`.  Target: skimage's chelsea, centre square at 224 px, class "
             f"{result['target_class']} (Lite0's top-1).  Settings: 2000 warm-up steps at 112 px (DeepInversion's "
             "half-resolution start), then the paper's 2000 warm-up + 2000 adversarial steps at 224 px; the cpu "
             "preset's Lite0 choices otherwise (spectral parametrization, TV weight α = 1, lr 0.1, jitter 30 px + "
             "flips, 20-step lr warm-up, λ = 5, γ = 10).  One thread of 2 CPU cores shared with other jobs "
             "(1-min load average at the start and end of each seed).  *held-out* = Lite0's y* probability over 8 unseen crops (the target "
             f"itself: {result['target_held_out_confidence']:.3f}); *high-freq.* / *chroma high-freq.* = share of "
             "the grey / chroma spectral power above half Nyquist ÷ the target's.  Paper (Wang et al. 2021, Fig. 1 "
             "and 4): natural photos, ResNet-50, 224 px, 2000 + 2000 steps on a GPU.", "",
             "| seed | stage | " + " | ".join(h for _, h in COLUMNS) + " | s (all stages) | load at start / end |",
             "|---" * (len(COLUMNS) + 4) + "|"]
    for r in result["rows"]:
        cells = " | ".join(f"{r[k]:.3f}" for k, _ in COLUMNS)
        lines.append(f"| {r['seed']} | {r['stage']} | {cells} | {r['seconds']:.0f} | {r['load_average_at_start'][0]} / "
                     f"{r['load_average_at_end'][0]} |")
    if result["diversity"] is not None:
        lines += ["", f"Diversity: mean Lite0 feature distance between two seeds' final images "
                  f"{result['diversity']:.3f} (the LPIPS stand-in of benchmarks/imagine.py; 0 = identical)."]
    lines += ["", "Sheet (target, then each seed's warm-up and final image): "
              "![imagine full budget](imagine_full.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
