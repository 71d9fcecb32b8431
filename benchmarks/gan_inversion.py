"""GAN inversion benchmark on the offline 64×64 DCGAN face generator (dcgan-faces).

    .venv/bin/python benchmarks/gan_inversion.py [--parts generated,candidates,real,inpaint,sweep] [--generated 6] ...

1. generated: n images x = G(z), z ~ N(0, I) (true code known), inverted by latent search, two-step (dense layer)
   and mGANprior (half its codes around the latent solution of the same search); mean L_mse-feat and pixel MSE at
   each level and the share recovered to near-zero error (PSNR ≥ 30 dB and ≥ 40 dB) — the comparison of Pividori et al.
   Fig. 5; the true-code recovery ‖z* − z‖/‖z‖, ‖z*‖/‖z‖ and where the code error lies relative to the Jacobian
   ∂G/∂z at z (its weak directions: the generator's many-to-one regions).
2. candidates: issue 20 — mGANprior's initialisations and learning rates on generated images AND on the real
   crops: Gaussian codes (the thesis' start, lr 0.05), all codes around z* (the former default), half around z*
   and half Gaussian (the default), all at lr 0.01 but the first; a wider exploration is in docs/methods/gan.md.
3. real: five real face crops (below), the same three levels.
4. inpaint: 12 / 25 / 40 % of pixels removed in random 8×8 blocks (a different mask per image, the same for
   every method); mGANprior vs self-attention (dot and scaled-dot scoring) vs CBAM at the composition layer,
   PSNR / SSIM of the raw reconstruction against the clean crop, laid out like thesis Tables 6.1–6.3, with the
   single-code start z* as a reference row.
5. sweep: number of codes N and composition layer on the 25 % task (thesis Fig. 6.1).

Real faces: square crops (left, top, side in pixels of the original) resized to 64×64 with PIL's Lanczos filter:
CSet5 head.png (50, 40, 230), woman.png (45, 25, 165), baby.png (80, 60, 350), CSet14 face.png (48, 38, 228),
skimage.data.astronaut() (145, 15, 170) — chosen to frame the face from hairline to chin like the DigiFace
training images.  (CSet14 face.png is the CSet5 head.png photo at another scale.)

Budgets are flags; the default run is sized for about a quarter hour of one idle CPU core.  Parts may run as
separate processes (``--parts generated`` …): each merges its results into the JSON under a file lock, and the
Markdown is written once all parts are there (``--parts none`` rewrites it from the JSON).  One torch thread: on a
shared 2-core machine, two threads cost several times more CPU for these small tensors.  Times are per run (all
targets of a method together) in CPU seconds, with wall seconds beside them.  Writes
benchmarks/results/gan_inversion.{json,md} and gan_inversion_*.png.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from netprior.generators import get_generator
from netprior.io import from_numpy, save_image
from netprior.metrics import batch_quality
from netprior.inputs import missing_blocks_mask
from netprior.recipes.gan import inpaint, invert, make_config
from netprior.generators.paths import interpolate, offset_path
from netprior.solve import peak_memory_mb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results"
FACES = {"head": ("CSet5/head.png", (50, 40, 230)), "woman": ("CSet5/woman.png", (45, 25, 165)),
         "baby": ("CSet5/baby.png", (80, 60, 350)), "face": ("CSet14/face.png", (48, 38, 228)),
         "astronaut": (None, (145, 15, 170))}
# Thesis Tables 6.1–6.3 (LSUN-bedroom, PGGAN 256×256, 100 images), PSNR/SSIM; scaled dot-product from Table 6.4,
# whose second row ("Dot-product") the text identifies as the scaled variant.
THESIS = {"mgan": {0.12: (25.54, 0.83), 0.25: (22.08, 0.77), 0.40: (18.16, 0.68)},
          "self": {0.12: (25.22, 0.80), 0.25: (21.76, 0.73), 0.40: (18.06, 0.63)},
          "self-scaled": {0.12: (24.16, 0.75), 0.25: (18.53, 0.64), 0.40: (16.23, 0.60)},
          "cbam": {0.12: (25.46, 0.82), 0.25: (21.93, 0.76), 0.40: (17.84, 0.66)}}
PARTS = ("generated", "candidates", "real", "inpaint", "sweep")
VARIANT_NAMES = {"mgan": "mGANprior", "self": "+ self-attention (dot)", "self-scaled": "+ self-attention (scaled)",
                 "cbam": "+ CBAM"}


def load_faces(size: int = 64) -> tuple[list[str], torch.Tensor]:
    from skimage import data

    out = []
    for path, (left, top, side) in FACES.values():
        img = Image.fromarray(data.astronaut()) if path is None else Image.open(DATA / path).convert("RGB")
        crop = img.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
        out.append(from_numpy(np.asarray(crop)))
    return list(FACES), torch.cat(out)


class Timer:
    def __enter__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu, self.wall = time.process_time() - self.cpu, time.perf_counter() - self.wall


def per_target(x: torch.Tensor, ref: torch.Tensor) -> list[dict]:
    return [batch_quality(x[i:i + 1], ref[i:i + 1]) for i in range(x.shape[0])]


def level_stats(x: torch.Tensor, ref: torch.Tensor, loss: torch.Tensor, cpu: float, wall: float, steps: int) -> dict:
    q = per_target(x, ref)
    p = np.array([v["psnr"] for v in q])
    return {"loss_mse_feat": float(loss.mean()), "mse": float(np.mean([v["mse"] for v in q])),
            "psnr": float(p.mean()), "ssim": float(np.mean([v["ssim"] for v in q])),
            "share_30db": float((p >= 30).mean()), "share_40db": float((p >= 40).mean()),
            "per_target_psnr": p.round(2).tolist(), "per_target_loss": loss.tolist(),
            "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "steps": steps}


def three_levels(g, x: torch.Tensor, args, seed: int) -> tuple[dict, dict]:
    """Latent and two-step (one run: the two-step run starts from the latent result) and mGANprior."""
    cfg = make_config("two-step", iters=args.iters, restarts=args.restarts, offset_iters=args.offset_iters)
    with Timer() as t:
        two = invert(x, g, cfg, seed=seed, progress=False)
    # the two phases' CPU time, split in proportion to their solver (wall) seconds
    lat, off = two.results["latent"].seconds, two.results["offset"].seconds
    f = lat / (lat + off)
    res = {"latent": level_stats(two.latent_image, x, two.latent_loss, t.cpu * f, t.wall * f,
                                 args.iters * args.restarts),
           "two-step": level_stats(two.image, x, two.loss, t.cpu * (1 - f), t.wall * (1 - f), args.offset_iters)}
    mcfg = make_config("mgan", iters=args.mgan_iters, codes=args.codes, init_iters=args.iters,
                       restarts=args.restarts)
    with Timer() as t:
        mg = invert(x, g, mcfg, seed=seed, progress=False)
    # mgan's codes start around the latent solution of the same search (same seed and settings) as the latent level
    res["mgan"] = level_stats(mg.image, x, mg.loss, t.cpu, t.wall, args.mgan_iters)
    res["mgan"]["same_start_as_latent"] = bool(torch.allclose(mg.latent_image, two.latent_image, atol=1e-5))
    return res, {"two-step": two, "mgan": mg}


CANDIDATE_FINDING = (
    "Finding (also in `netprior.recipes.gan`'s docstring and `docs/methods/gan.md`): on generated faces the cause "
    "of the old gap is the initialisation, not the loss weights, the α step or the schedule — Gaussian codes at "
    "α_n = 1/N compose a map with 1/N of a single code's variance, one that no code makes, and settle near 28 dB; "
    "codes around the latent solution z* start at G(z*) and gain on it, and lr 0.01 keeps that start (0.05 throws "
    "it away: Adam's first steps move each α_n by about its own size).  On the real crops that start is a trap: "
    "codes all within σ = 0.1 of z* make maps close to G1(z*), so the importances can only re-weight the channels "
    "of one face, and mGANprior stays in z*'s basin, below two-step, with smeared eyes.  A larger lr helps the "
    "real crops but costs the generated faces (and more so with more codes, the α_n being smaller).  Half the codes "
    "around z* (α_n = 1/K) and half Gaussian at α_n = 0.01 keeps the start at ≈ G(z*) and puts codes of other "
    "faces at hand: on the real crops it is the best start and the only one above two-step; on generated faces it "
    "gives up 0.3–1.3 dB to the all-around-z* start (depending on the draws) but stays 7–8 dB above the single "
    "code and above two-step.  It is the only start that meets both of the issue's orderings, hence the default "
    "(`init=\"mixed\"`).")
CANDIDATES = {  # name: mgan overrides; the last one is the recipe's default.  More in docs/methods/gan.md.
    "gaussian codes, lr 0.05, L2 1e-3 (the thesis' start)": {"init": "random", "lr": 0.05},
    "all codes around z*, lr 0.01 (former default)": {"init": "latent", "lr": 0.01},
    "half around z*, half gaussian, lr 0.01 (default)": {"init": "mixed", "lr": 0.01},
}


def candidates(g, x: torch.Tensor, args, seed: int) -> tuple[dict, list[torch.Tensor]]:
    """The issue-20 candidates for mgan's start and lr on the targets ``x``, each at the same small budget; also
    their reconstructions (the latent start first)."""
    out, images, start = {}, [], []
    for name, over in CANDIDATES.items():
        cfg = make_config("mgan", iters=args.candidate_iters, codes=args.codes, init_iters=args.iters,
                          restarts=args.restarts, **over)
        with Timer() as t:
            inv = invert(x, g, cfg, seed=seed, progress=False)
        p = [v["psnr"] for v in per_target(inv.image, x)]
        out[name] = {"psnr": float(np.mean(p)), "per_target_psnr": [round(v, 2) for v in p],
                     "cpu_s": round(t.cpu, 1), "wall_s": round(t.wall, 1), **over}
        if inv.latent_image is not None:
            out[name]["latent_psnr"] = float(np.mean([v["psnr"] for v in per_target(inv.latent_image, x)]))
            start = [inv.latent_image]
        images.append(inv.image)
        print("candidate", name, round(out[name]["psnr"], 2), flush=True)
    return out, start + images


def code_recovery(g, z: torch.Tensor, z_star: torch.Tensor, lambda_prior: float) -> dict:
    """Why z* ≠ z although G(z*) ≈ G(z): the relative error, the norm ratio ‖z*‖/‖z‖ (the prior λ₁·½‖z‖² pulls
    codes towards 0) and the share of ‖z* − z‖² along the 50 weakest right-singular directions of the Jacobian
    ∂G/∂z at the true z (directions the generator barely maps: a many-to-one region)."""
    err, ratio, weak, spread = [], [], [], []
    for zi, si in zip(z, z_star):
        jac = torch.autograd.functional.jacobian(lambda v: g(v[None]).flatten(), zi, vectorize=True,
                                                  strategy="forward-mode")
        _, sv, vh = torch.linalg.svd(jac, full_matrices=False)
        e = si - zi
        coef = vh @ e
        err.append(float(e.norm() / zi.norm()))
        ratio.append(float(si.norm() / zi.norm()))
        weak.append(float(coef[-50:].pow(2).sum() / coef.pow(2).sum()))
        spread.append(float(sv[-1] / sv[0]))
    err = np.array(err)
    return {"z_error": [round(v, 3) for v in err], "z_error_median": float(np.median(err)),
            "z_error_quartiles": [float(np.quantile(err, q)) for q in (0.25, 0.75)],
            "z_recovered": float((err < 0.1).mean()), "norm_ratio_median": float(np.median(ratio)),
            "weak_share_median": float(np.median(weak)), "singular_ratio_median": float(np.median(spread)),
            "lambda_prior": lambda_prior}


def inpaint_run(g, faces: torch.Tensor, share: float, attention: str, codes: int, layer: str | None, iters: int,
                init_iters: int, restarts: int, seed: int) -> tuple[dict, torch.Tensor]:
    masks = torch.cat([missing_blocks_mask(g.image_size, share, seed=seed + i) for i in range(faces.shape[0])])
    cfg = make_config("mgan", iters=iters, codes=codes, layer=layer, attention=attention, init_iters=init_iters,
                      restarts=restarts)
    with Timer() as t:
        inv = inpaint(faces, masks, g, cfg, seed=seed, progress=False)
    q = per_target(inv.image, faces)
    return {"psnr": float(np.mean([v["psnr"] for v in q])), "ssim": float(np.mean([v["ssim"] for v in q])),
            "per_target_psnr": [round(v["psnr"], 2) for v in q], "missing": float(1 - masks.mean()),
            "latent_psnr": float(np.mean([v["psnr"] for v in per_target(inv.latent_image, faces)])),
            "layer": inv.layer, "codes": codes, "cpu_s": round(t.cpu, 1), "wall_s": round(t.wall, 1),
            "steps": iters}, inv.image


def strip(rows: list[torch.Tensor]) -> torch.Tensor:
    """Rows of (N, 3, H, W) images → one (1, 3, R·H, N·W) sheet."""
    return torch.cat([torch.cat(list(r), dim=-1) for r in rows], dim=-2)[None]


def error_figure(gen: dict, real: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), constrained_layout=True)
    labels, data = [], []
    for kind, res in (("generated", gen), ("real", real)):
        for level in ("latent", "two-step", "mgan"):
            labels.append(f"{kind}\n{level}")
            data.append(np.log10(np.maximum(res[level]["per_target_loss"], 1e-8)))
    ax.boxplot(data, tick_labels=labels, showfliers=True)
    ax.set_ylabel("log10 L_mse-feat")
    ax.set_title("Reconstruction error at each level (cf. Pividori et al. Fig. 5)", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def sweep_figure(sweep: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
    for layer, runs in sweep.items():
        ns = sorted(int(n) for n in runs)
        ax.plot(ns, [runs[str(n)]["psnr"] for n in ns], "o-", label=f"composition at {layer}")
    ax.set_xlabel("number of latent codes N")
    ax.set_ylabel("PSNR (dB), 25 % missing")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
    ax.set_title("Codes and composition layer (cf. thesis Fig. 6.1)", fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(res: dict, cmd: str) -> str:
    a = res["args"]
    L = ["## GAN inversion: latent, two-step dense layer, mGANprior (Pividori et al.; Kostakis thesis)", "",
         f"Command: `{cmd}`", "",
         f"Generator: dcgan-faces (64×64, DigiFace-1M).  Loss: MSE + {res['feature_weight']:g}·‖φ(x) − φ(x̂)‖² "
         f"with φ = Lite0 `{res['feature_layers']}` (Inception-v3 / VGG-16 weights are not available offline).  "
         f"Budget: latent {a['iters']} Adam steps × {a['restarts']} restarts, two-step offset {a['offset_iters']} "
         f"steps, mGANprior {a['mgan_iters']} steps with N = {a['codes']} codes at `{res['composition_layer']}`, "
         f"half of them placed around the latent solution of the same latent search (its CPU time includes that "
         f"search; same loss), half Gaussian; issue-20 candidates {a['candidate_iters']} mGANprior steps on "
         f"{a['candidate_images']} generated images" + ("" if res.get("inpaint_note") else
                      f"; inpainting {a['inpaint_init_iters']} latent steps × {a['inpaint_restarts']} restart(s) "
                      f"then {a['inpaint_iters']} mGANprior steps, N = {a['inpaint_codes']}")
         + ("" if res.get("sweep_note") else f"; sweep {a['sweep_iters']} mGANprior steps after the same latent "
                                              "search") + ".  "
         f"CPU seconds on one thread (the shared machine's wall time beside them).  Peak memory "
         f"{res['peak_memory_mb']:.0f} MB." + (f"  Machine: {res['machine']}." if res.get("machine") else ""), ""]
    for part, title in (("generated", f"Inverting {a['generated']} generated images (true z known)"),
                        ("real", "Inverting the five real face crops")):
        L += [f"### {title}", "",
              "| level | L_mse-feat | pixel MSE | PSNR (dB) | SSIM | PSNR ≥ 30 dB | PSNR ≥ 40 dB | iterations | "
              "CPU s (wall s) | paper |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for level in ("latent", "two-step", "mgan"):
            r = res[part][level]
            L.append(f"| {level} | {r['loss_mse_feat']:.4f} | {r['mse']:.5f} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                     f"{100 * r['share_30db']:.0f} % | {100 * r['share_40db']:.0f} % | {r['steps']} | "
                     f"{r['cpu_s']:.0f} ({r['wall_s']:.0f}) | Fig. 5: plot only, no numbers |")
        if part == "generated":
            c = res["generated"]["codes"]
            q1, q3 = c["z_error_quartiles"]
            L += ["", f"True-code recovery after the latent step: relative error ‖z* − z‖/‖z‖ median "
                      f"{c['z_error_median']:.3f} (quartiles {q1:.3f}–{q3:.3f}; per image "
                      f"{', '.join(f'{v:.2f}' for v in c['z_error'])}), share below 0.1: "
                      f"{100 * c['z_recovered']:.0f} %.  The images match to "
                      f"{res['generated']['latent']['psnr']:.1f} dB although the codes do not: "
                      f"(i) ‖z*‖/‖z‖ has median {c['norm_ratio_median']:.3f} — the prior λ₁·½‖z‖² "
                      f"(λ₁ = {c['lambda_prior']:g}; ½‖z‖² ≈ 50 for 100-d codes, so ≈ 5e-3, larger than the data "
                      "term at 40 dB, 1e-4) pulls every code towards 0; (ii) a median "
                      f"{100 * c['weak_share_median']:.0f} % of ‖z* − z‖² lies along the 50 weakest right-singular "
                      "directions of ∂G/∂z at the true z (half of the 100), whose smallest-to-largest singular-value "
                      f"ratio is {c['singular_ratio_median']:.3f}: the generator maps those directions to nearly "
                      "the same image (a many-to-one region of the generator), so the image error cannot locate z "
                      "along them."]
            if "mgan" in res["generated"]:
                L += ["", "Half of mGANprior's codes start around z*, the solution of the same latent search "
                          f"(identical start: {res['generated']['mgan'].get('same_start_as_latent')})."]
        else:
            L += ["", "Per image PSNR (latent / two-step / mGANprior): " + ", ".join(
                f"{n} {res['real']['latent']['per_target_psnr'][i]:.1f} / "
                f"{res['real']['two-step']['per_target_psnr'][i]:.1f} / "
                f"{res['real']['mgan']['per_target_psnr'][i]:.1f}" for i, n in enumerate(res["faces"]))]
            r = res["real"]
            order = " ≥ ".join(sorted(("latent", "two-step", "mgan"), key=lambda k: -r[k]["psnr"]))
            L += ["", f"Ordering by PSNR at this budget: {order}.  (Before the mixed start, mGANprior with all "
                      "its codes around z* was below two-step here: 21.25 against 22.43 dB with N = 10; see the "
                      "candidates below.)"]
        L.append("")
    c = res["candidates"]
    L += ["### Issue 20: mGANprior's start and learning rate, generated and real faces", "",
          f"Each candidate inverts {a['candidate_images']} generated images and the {len(res['faces'])} real crops, "
          f"N = {a['codes']}, {a['candidate_iters']} mGANprior steps after the latent search of the tables above; "
          "\"latent start\" is the PSNR of G(z*).  Figure `gan_inversion_candidates.png`: the real crops, G(z*), then "
          "one row per candidate in this order.", "",
          "| candidate | generated PSNR (dB) | real PSNR (dB) | real, per image | CPU s generated / real |",
          "|---|---|---|---|---|"]
    for name, r in c["real"].items():
        gen = c["generated"][name]
        L.append(f"| {name} | {gen['psnr']:.2f} | {r['psnr']:.2f} | "
                 f"{', '.join(f'{v:.1f}' for v in r['per_target_psnr'])} | {gen['cpu_s']:.0f} / {r['cpu_s']:.0f} |")
    start = {k: next(r["latent_psnr"] for r in c[k].values() if "latent_psnr" in r) for k in ("generated", "real")}
    L.append(f"| latent start G(z*) | {start['generated']:.2f} | {start['real']:.2f} | — | — |")
    L += ["", CANDIDATE_FINDING, ""]
    L += ["### Inpainting, random 8×8 blocks (thesis Tables 6.1–6.3 layout)", "",
          *([res["inpaint_note"], ""] if res.get("inpaint_note") else []),
          "| method | " + " | ".join(f"{int(100 * s)} % PSNR | {int(100 * s)} % SSIM" for s in res["shares"])
          + " | CPU s per run | thesis LSUN-bedroom PSNR/SSIM (12 / 25 / 40 %) |",
          "|---|" + "---|---|" * len(res["shares"]) + "---|---|"]
    first = next(iter(res["inpaint"].values()))
    if all("latent_psnr" in first[str(s)] for s in res["shares"]):
        L.append("| latent start (single code z*) | " + " | ".join(f"{first[str(s)]['latent_psnr']:.2f} | —"
                                                                 for s in res["shares"]) + " | — | — |")
    for variant, runs in res["inpaint"].items():
        cells = " | ".join(f"{runs[str(s)]['psnr']:.2f} | {runs[str(s)]['ssim']:.3f}" for s in res["shares"])
        cpu = np.mean([runs[str(s)]["cpu_s"] for s in res["shares"]])
        paper = " / ".join(f"{THESIS[variant][s][0]:.2f}/{THESIS[variant][s][1]:.2f}" for s in (0.12, 0.25, 0.40))
        L.append(f"| {VARIANT_NAMES[variant]} | {cells} | {cpu:.0f} | {paper} |")
    L += ["", f"Each run inverts the {len(res['faces'])} face crops together (independent codes, one mask per "
              "image); the thesis numbers are for PGGAN on LSUN at 256×256, 3000 steps, N = 20, so only the "
              "ordering of the variants is comparable.  The reconstruction is the generator's image everywhere, "
              "so on these real crops its misfit on the known pixels (compare the whole-image inversion above) "
              "weighs as much as the missing share.", "",
          "### Number of codes and composition layer (25 % missing, thesis Fig. 6.1)", "",
          *([res["sweep_note"], ""] if res.get("sweep_note") else []),
          "| composition layer (map size) | " + " | ".join(f"N = {n}" for n in res["sweep_codes"])
          + " | CPU s (largest N) |",
          "|---|" + "---|" * len(res["sweep_codes"]) + "---|"]
    for layer, runs in res["sweep"].items():
        cells = " | ".join(f"{runs[str(n)]['psnr']:.2f}" for n in res["sweep_codes"])
        L.append(f"| {layer} {res['layer_shapes'][layer]} | {cells} | "
                 f"{runs[str(res['sweep_codes'][-1])]['cpu_s']:.0f} |")
    L += ["", "Figures: `gan_inversion_errors.png` (error distributions), `gan_inversion_real.png` (targets, "
              "latent, two-step, mGANprior), `gan_inversion_inpaint.png` (25 %: masked input, mGANprior, SA, "
              "SA-scaled, CBAM, clean), `gan_inversion_candidates.png` (real crops, G(z*), the candidates), "
              "`gan_inversion_interpolation.png` (head → woman: latent path, dense path, "
              "head latent→dense), `gan_inversion_sweep.png`."]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generated", type=int, default=6, help="generated images to invert (paper: 1000)")
    ap.add_argument("--iters", type=int, default=300, help="latent steps per restart")
    ap.add_argument("--restarts", type=int, default=2)
    ap.add_argument("--offset-iters", type=int, default=200, help="two-step: δ steps")
    ap.add_argument("--mgan-iters", type=int, default=200, help="mGANprior steps (paper: 3000)")
    ap.add_argument("--codes", type=int, default=20, help="mGANprior codes for parts 1–3 (paper: 20)")
    ap.add_argument("--candidate-iters", type=int, default=150, help="mGANprior steps of each issue-20 candidate")
    ap.add_argument("--candidate-images", type=int, default=4, help="generated images for the candidates")
    ap.add_argument("--inpaint-iters", type=int, default=100)
    ap.add_argument("--inpaint-init-iters", type=int, default=100, help="latent steps that place mGANprior's codes")
    ap.add_argument("--inpaint-restarts", type=int, default=1, help="restarts of that latent search")
    ap.add_argument("--inpaint-codes", type=int, default=20)
    ap.add_argument("--sweep-iters", type=int, default=60)
    ap.add_argument("--sweep-codes", default="1,5,20")
    ap.add_argument("--sweep-layers", default="dense,block1,block2")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated; parts may run as separate processes "
                                                             "(results merge into the JSON); none = only rewrite the "
                                                             "Markdown")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", help="what the Markdown says about the machine and its load (default: kept from the "
                                      "JSON)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "gan_inversion.json"
    res = {}  # this run's parts, merged into the file at the end (parts may run as separate processes)
    g = get_generator("dcgan-faces")
    cfg = make_config("latent")
    names, faces = load_faces()
    if args.machine:
        res["machine"] = args.machine
    res.update({"args": vars(args), "feature_weight": cfg.feature.weight, "feature_layers": ",".join(cfg.feature.layers),
                "composition_layer": g.composition_layer, "faces": names, "shares": [0.12, 0.25, 0.40],
                "layer_shapes": {n: list(g.layer_shape(n)) for n in g.split_layers}})

    if "generated" in parts:
        z = g.prior.sample(args.generated, torch.Generator().manual_seed(1000 + args.seed))
        with torch.no_grad():
            x = g(z)
        out, invs = three_levels(g, x, args, args.seed)
        out["codes"] = code_recovery(g, z, invs["two-step"].z, make_config("latent").lambda_prior)
        res["generated"] = out
        print("generated", {k: round(v["psnr"], 2) for k, v in out.items() if "psnr" in v}, flush=True)

    if "candidates" in parts:
        z = g.prior.sample(args.candidate_images, torch.Generator().manual_seed(1000 + args.seed))
        with torch.no_grad():
            x = g(z)
        res["candidates"] = {"generated": candidates(g, x, args, args.seed)[0]}
        res["candidates"]["real"], images = candidates(g, faces, args, args.seed)
        save_image(strip([faces, *images]), OUT / "gan_inversion_candidates.png")

    if "real" in parts:
        out, invs = three_levels(g, faces, args, args.seed)
        res["real"] = out
        two, mg = invs["two-step"], invs["mgan"]
        save_image(strip([faces, two.latent_image, two.image, mg.image]), OUT / "gan_inversion_real.png")
        a = invert(faces[:1], g, make_config("two-step", iters=args.iters, restarts=args.restarts,
                                             offset_iters=args.offset_iters), seed=args.seed, progress=False)
        b = invert(faces[1:2], g, make_config("two-step", iters=args.iters, restarts=args.restarts,
                                              offset_iters=args.offset_iters), seed=args.seed, progress=False)
        paths = interpolate(g, a, b, 8)
        save_image(strip([paths["latent"], paths["dense"], offset_path(g, a, 8)]),
                   OUT / "gan_inversion_interpolation.png")
        print("real", {k: round(v["psnr"], 2) for k, v in out.items()}, flush=True)


    if "inpaint" in parts:
        res["inpaint"] = {}
        res["inpaint_note"] = None
        sheet = []
        for variant in ("mgan", "self", "self-scaled", "cbam"):
            res["inpaint"][variant] = {}
            for share in res["shares"]:
                r, image = inpaint_run(g, faces, share, "none" if variant == "mgan" else variant,
                                       args.inpaint_codes, None, args.inpaint_iters, args.inpaint_init_iters,
                                       args.inpaint_restarts, args.seed)
                res["inpaint"][variant][str(share)] = r
                if share == 0.25:
                    sheet.append(image)
                print("inpaint", variant, share, round(r["psnr"], 2), flush=True)
        masks = torch.cat([missing_blocks_mask(g.image_size, 0.25, seed=args.seed + i) for i in range(len(names))])
        save_image(strip([faces * masks, *sheet, faces]), OUT / "gan_inversion_inpaint.png")

    if "sweep" in parts:
        codes = [int(n) for n in args.sweep_codes.split(",")]
        res["sweep_codes"] = codes
        res["sweep"] = {}
        res["sweep_note"] = None
        for layer in args.sweep_layers.split(","):
            res["sweep"][layer] = {}
            for n in codes:
                r, _ = inpaint_run(g, faces, 0.25, "none", n, layer, args.sweep_iters, args.inpaint_init_iters,
                                   args.inpaint_restarts, args.seed)
                res["sweep"][layer][str(n)] = r
                print("sweep", layer, n, round(r["psnr"], 2), flush=True)
        sweep_figure(res["sweep"], OUT / "gan_inversion_sweep.png")

    with open(path, "a") as lock:  # parts running at the same time merge their results one after the other
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = json.loads(path.read_text() or "{}")
        commands = {**done.get("commands", {}),
                    **{p: "python benchmarks/gan_inversion.py " + " ".join(sys.argv[1:]) for p in parts if p in PARTS}}
        memory = max(done.get("peak_memory_mb", 0), peak_memory_mb())
        res = {**done, **res, "commands": commands, "peak_memory_mb": memory,
               "config_defaults": {m: asdict(make_config(m)) for m in ("latent", "two-step", "mgan")}}
        path.write_text(json.dumps(res, indent=1))
    if "generated" in res and "real" in res:
        error_figure(res["generated"], res["real"], OUT / "gan_inversion_errors.png")
    if all(k in res for k in PARTS):
        cmds = sorted(set(res["commands"].values()))
        (OUT / "gan_inversion.md").write_text(markdown(res, "`; `".join(c.strip() for c in cmds)) + "\n")
        print((OUT / "gan_inversion.md").read_text())


if __name__ == "__main__":
    main()
