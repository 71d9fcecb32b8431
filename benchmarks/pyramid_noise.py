"""Semantic Pyramid: does the generator use its noise?  Four short trainings that differ only in where z enters and
how the diversity term measures distances, each scored by the diversity (mean pairwise L1 between samples of one
reference) and the distance to the reference per level — the paper's Fig. 2 trend is diversity rising and fidelity
falling with the level.

Variants (everything else as `benchmarks/pyramid.py`'s CPU budget: 64², width 16, batch 8, lr 4·10⁻⁴, α = 1,
β = 0.1, seed 0, the default collection):

* ``coarse-sum`` — z only at the coarsest (vector) level, eq. 4 with L1 norms (the generator before this benchmark);
* ``coarse-mean`` — z only at the coarsest level, eq. 4 with means (the mode-seeking authors' code);
* ``skipz-sum`` — z also conditions every block's batch norm (BigGAN's hierarchical latent), L1 norms (the default);
* ``skipz-mean`` — both.

    nice -n 10 .venv/bin/python benchmarks/pyramid_noise.py --variant skipz-sum    # one training, ~15 min at load 5
    .venv/bin/python benchmarks/pyramid_noise.py --report                          # the table and the sheet
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from pyramid import datasets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "out" / "pyramid_noise"
VARIANTS = {"coarse-sum": (False, "sum"), "coarse-mean": (False, "mean"), "skipz-sum": (True, "sum"),
            "skipz-mean": (True, "mean")}
SHEET_LEVELS = ("conv1", "conv3", "conv5", "fc8")


def run_variant(name: str, iters: int, refs_count: int, samples: int) -> None:
    from netprior.io import save_image
    from netprior.recipes.pyramid import PyramidConfig, generate, train_pyramid
    from netprior.report import image_grid
    from netprior.semantic_pyramid import LEVELS, ClassifierPyramid

    skip_z, distance = VARIANTS[name]
    train, held = datasets(ROOT / "benchmarks" / "out" / "default-collection", 64, 0)
    cfg = PyramidConfig(resolution=64, width=16, batch=8, iters=iters, lr=4e-4, rec_weight=1.0, div_weight=0.1,
                        div_distance=distance, skip_z=skip_z, seed=0)
    refs = torch.stack([held[i] for i in range(refs_count)])
    load, t0 = os.getloadavg()[0], time.time()
    run = train_pyramid(train, cfg, device="cpu", progress=False, references=refs[:4])
    pyr = ClassifierPyramid("lite0", "cpu")
    out = {"variant": name, "skip_z": skip_z, "div_distance": distance, "iters": iters, "wall_s": time.time() - t0,
           "load_start": round(load, 1), "load_end": round(os.getloadavg()[0], 1), "references": refs_count,
           "samples": samples, "final_losses": {k: v[-1] for k, v in run.result.history.items() if k != "iteration"},
           "levels": {}}
    rows = []
    for level in LEVELS:
        s = generate(run.generator, pyr, refs, level, samples, seed=2).view(refs_count, samples, *refs.shape[1:])
        pair = (s[:, :, None] - s[:, None]).abs().mean(dim=(3, 4, 5))
        out["levels"][level] = {"diversity_l1": float(pair.sum() / (refs_count * samples * (samples - 1))),
                                "distance_l1": float((s - refs[:, None]).abs().mean())}
        if level in SHEET_LEVELS:
            rows.append(torch.cat([refs[:3, None], s[:3]], 1).flatten(0, 1))
    WORK.mkdir(parents=True, exist_ok=True)
    save_image(image_grid(torch.cat(rows), nrow=samples + 1), RESULTS / f"pyramid_noise_{name}.png")
    (WORK / f"{name}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out["levels"]), flush=True)


def report() -> None:
    from netprior.semantic_pyramid import LEVELS

    res = {n: json.loads((WORK / f"{n}.json").read_text()) for n in VARIANTS if (WORK / f"{n}.json").exists()}
    any_run = next(iter(res.values()))
    lines = ["## Semantic Pyramid: where the noise enters (2 shared CPU cores, torch on 1 thread)", "",
             ("Command: `python benchmarks/pyramid_noise.py --variant NAME` for each variant, then `--report`. "
             f"Budget per variant: {any_run['iters']} iterations at 64², width 16, batch 8, lr 4·10⁻⁴, α = 1, "
             "β = 0.1, seed 0, default collection (the CPU budget of `pyramid.md`). Diversity = mean pairwise L1 "
             f"between {any_run['samples']} samples of one reference, distance = mean L1 of a sample to its "
             f"reference ({any_run['references']} held-out references, pixels in [0, 1]). The paper's Fig. 2: "
             "diversity rises and fidelity falls (distance rises) with the level."), "",
             "| variant | z enters | eq. 4 distances | | " + " | ".join(l.upper() for l in LEVELS) + " | minutes (load) |",
             "|---|---|---|---|" + "---|" * len(LEVELS) + "---|"]
    for n, r in res.items():
        where = "every block's batch norm + coarsest" if r["skip_z"] else "coarsest level only"
        for key, label in (("diversity_l1", "diversity"), ("distance_l1", "distance")):
            lines.append(f"| {n} | {where} | {r['div_distance']} | {label} | "
                         + " | ".join(f"{r['levels'][l][key]:.3f}" for l in LEVELS)
                         + (f" | {r['wall_s'] / 60:.0f} ({r['load_start']}–{r['load_end']}) |" if key ==
                            "diversity_l1" else " | |"))
    lines += ["", "Sheets (per variant: rows conv1, conv3, conv5, fc8 for three references; each row the reference, "
              f"then {any_run['samples']} samples): " + ", ".join(f"[{n}](pyramid_noise_{n}.png)" for n in res), ""]
    verdict = WORK / "verdict.md"
    if verdict.exists():
        lines += [verdict.read_text().strip(), ""]
    (RESULTS / "pyramid_noise.md").write_text("\n".join(lines))
    (RESULTS / "pyramid_noise.json").write_text(json.dumps(res, indent=2))
    print(f"wrote {RESULTS / 'pyramid_noise.md'}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=tuple(VARIANTS))
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--refs", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.variant:
        run_variant(args.variant, args.iters, args.refs, args.samples)
    if args.report:
        report()
    if not (args.variant or args.report):
        ap.error("give --variant NAME and/or --report")


if __name__ == "__main__":
    sys.exit(main())
