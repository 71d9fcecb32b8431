"""Semantic Pyramid benchmark: the paper's Table 1 layout (FID per semantic level) on held-out images of the default
collection, diversity and fidelity per level (the Fig. 2 trend), sample sheets per level, the applications, and
seconds per training step.

Parts (``--parts``, all by default):

* ``train`` — trains the generator (EfficientNet-Lite0 levels) on the training split of the default collection
  (``netprior data make-default``; built into benchmarks/out/ when missing) and writes it to
  benchmarks/out/pyramid/generator.safetensors with the training record (seconds per step, CPU time, losses);
* ``eval`` — for every level: one sample per held-out image (centre crops) generated from that image's features
  at that level alone, FID/KID of those samples against the held-out images (Inception-v3 FID network), the
  real-vs-real floor (training images vs held-out); diversity = mean pairwise L1 distance (pixels in [0, 1])
  between ``--div-samples`` samples of one reference, fidelity = mean L1 distance of a sample to its reference;
  sample sheets per level, a Fig. 2-style sheet, and the applications (grey and line-drawing references,
  re-painting, composition, re-labelling);
* ``sheets`` — only the per-level sample sheets of ``eval`` again;
* ``report`` — results/pyramid.md and results/pyramid.json from the files in benchmarks/out/pyramid.

    nice -n 10 .venv/bin/python benchmarks/pyramid.py --iters 800   # 0.82 CPU s / step at width 16, batch 8, 64²;
                                                                    # eval ~0.4 CPU s per Inception image
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "out" / "pyramid"  # benchmarks/out/<--name>
NAME = "pyramid"  # prefix of the files in results/ (--name)
PAPER_FID = {"conv1": 2.89, "conv2": 8.67, "conv3": 11.08, "conv4": 17.64, "conv5": 19.59, "fc7": 22.67,
             "fc8": 29.34}


def datasets(collection: Path, resolution: int, seed: int):
    from netprior.data import ImageFolder, make_default_collection

    if not (collection / "manifest.json").exists():
        make_default_collection(collection, size=64, seed=0, progress=False)
    resize = resolution if resolution > 64 else None  # the collection's crops are 64²: upsample for 128
    train = ImageFolder(collection, resolution, split="train", resize=resize, seed=seed)
    held = ImageFolder(collection, resolution, split="heldout", crop="center", flip=False, resize=resize, seed=seed)
    return train, held


def train_part(args) -> dict:
    from netprior.io import save_image
    from netprior.recipes.pyramid import PyramidConfig, save_generator, train_pyramid
    from netprior.report import image_grid, write_training_report

    train, held = datasets(args.collection, args.resolution, args.seed)
    cfg = PyramidConfig(resolution=args.resolution, width=args.width, batch=args.batch, iters=args.iters,
                        lr=args.lr, rec_weight=args.rec_weight, seed=args.seed)
    refs = torch.stack([held[i] for i in range(4)])
    cpu0, t0 = time.process_time(), time.time()
    run = train_pyramid(train, cfg, device=args.device, checkpoint=WORK / "checkpoint.safetensors",
                        log=WORK / "log.jsonl", progress=args.progress, sample_every=max(1, args.iters // 4),
                        references=refs)
    r = run.result
    save_generator(run.generator, cfg.classifier, WORK / "generator.safetensors", training=run.config)
    save_image(image_grid(r.snapshots[-1][1], nrow=5), RESULTS / f"{NAME}_training_sheet.png")
    write_training_report(RESULTS / f"{NAME}_report.png", r.history, r.snapshots,
                          title=f"Semantic pyramid {args.resolution}², width {args.width}, batch {args.batch}")
    info = {"config": run.config, "iterations": r.iterations, "wall_seconds": r.seconds,
            "cpu_seconds_this_process": time.process_time() - cpu0, "wall_this_process": time.time() - t0,
            "seconds_per_step": r.seconds / r.iterations, "images_per_s": r.images_per_second,
            "peak_memory_mb": r.peak_memory_mb, "device": str(args.device),
            "final_losses": {k: v[-1] for k, v in r.history.items() if k != "iteration"},
            "history": r.history}
    (WORK / "train.json").write_text(json.dumps(info, indent=2))
    print(f"train: {r.iterations} iterations, {r.seconds:.0f} s ({info['seconds_per_step']:.2f} s/step)", flush=True)
    return info


def line_drawing(x: torch.Tensor) -> torch.Tensor:
    """A line drawing of an image: dark strokes where its grey level has a strong gradient (Sobel), white paper."""
    import torch.nn.functional as F

    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    k = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    gx = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k[None, None])
    gy = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k.t()[None, None])
    mag = (gx ** 2 + gy ** 2).sqrt()
    strokes = (mag > mag.flatten(1).quantile(0.85, dim=1).view(-1, 1, 1, 1)).float()
    return (1 - strokes).expand(-1, 3, -1, -1)


def save_sheet(refs: torch.Tensor, samples: torch.Tensor, level: str) -> None:
    """results/<name>_sheet_<level>.png: up to 6 references, each followed by up to 5 of its samples, one per row."""
    from netprior.io import save_image
    from netprior.report import image_grid

    k = min(5, samples.shape[1])
    save_image(image_grid(torch.cat([refs[:6, None], samples[:6, :k]], 1).flatten(0, 1), nrow=1 + k),
               RESULTS / f"{NAME}_sheet_{level}.png")


def sheets_part(args) -> None:
    """Only the per-level sample sheets (the same references and seeds as ``eval``)."""
    from netprior.recipes.pyramid import generate, load_generator
    from netprior.semantic_pyramid import LEVELS

    g, pyr = load_generator(WORK / "generator.safetensors", args.device if args.device != "auto" else "cpu")
    _, held = datasets(args.collection, args.resolution, args.seed)
    refs = torch.stack([held[i] for i in range(min(len(held), args.div_refs))])
    for level in LEVELS:
        s = generate(g, pyr, refs, level, args.div_samples, seed=args.seed + 2)
        save_sheet(refs, s.view(len(refs), args.div_samples, *s.shape[1:]), level)


def eval_part(args) -> dict:
    from netprior.evaluation import InceptionFeatures, extract, fid_kid
    from netprior.io import save_image
    from netprior.recipes.pyramid import (
        compose,
        generate,
        load_generator,
        relabel,
        repaint,
    )
    from netprior.report import image_grid
    from netprior.semantic_pyramid import LEVELS

    dev = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    g, pyr = load_generator(WORK / "generator.safetensors", dev)
    train, held = datasets(args.collection, args.resolution, args.seed)
    real = torch.stack([held[i] for i in range(min(len(held), args.heldout_limit or len(held)))])
    step = max(1, len(train) // len(real))
    floor_imgs = torch.stack([train[i] for i in range(0, len(train), step)][:len(real)])
    inception = InceptionFeatures(dev)
    t0 = time.process_time()
    f_real = extract([real], inception, device=dev)
    cost = (time.process_time() - t0) / len(real)
    rows = {"floor": fid_kid(f_real, extract([floor_imgs], inception, device=dev), kid_subset_size=100)}
    div_refs = real[: args.div_refs]
    measures = {}
    for level in LEVELS:
        fake = torch.cat([generate(g, pyr, real[i:i + 32], level, 1, seed=args.seed + 1)
                          for i in range(0, len(real), 32)])
        rows[level] = fid_kid(f_real, extract([fake], inception, device=dev), kid_subset_size=100)
        s = generate(g, pyr, div_refs, level, args.div_samples, seed=args.seed + 2)
        s = s.view(len(div_refs), args.div_samples, *s.shape[1:])
        pair = (s[:, :, None] - s[:, None]).abs().mean(dim=(3, 4, 5))  # (refs, n, n)
        n = args.div_samples
        measures[level] = {"diversity_l1": float(pair.sum() / (len(div_refs) * n * (n - 1))),
                           "fidelity_l1": float((s - div_refs[:, None]).abs().mean())}
        save_sheet(div_refs, s, level)
        print(f"eval {level}: FID {rows[level]['fid']:.1f}, diversity {measures[level]['diversity_l1']:.4f}, "
              f"fidelity L1 {measures[level]['fidelity_l1']:.4f}", flush=True)
    # Fig. 2 layout: columns = references, rows = the reference then one sample per level (fine → coarse)
    refs = real[:8]
    fig2 = torch.stack([refs] + [generate(g, pyr, refs, level, 1, seed=args.seed + 3) for level in LEVELS])
    save_image(image_grid(fig2.flatten(0, 1), nrow=len(refs)), RESULTS / f"{NAME}_levels.png")
    # applications on held-out images: grey and line-drawing references (conv3, conv5), re-paint the centre from
    # conv5, compose the centre of one image into another (conv5), relabel at conv5 to the class of another image
    r = args.resolution
    hole = torch.ones(1, 1, r, r)
    hole[..., r // 4: 3 * r // 4, r // 4: 3 * r // 4] = 0
    a, b = real[8:12], real[12:16]
    grey = (0.299 * a[:, 0] + 0.587 * a[:, 1] + 0.114 * a[:, 2])[:, None].expand(-1, 3, -1, -1)
    drawing = line_drawing(a)
    other = pyr.labels(pyr.features(b.to(dev)))
    relabelled = torch.cat([relabel(g, pyr, a[i:i + 1], int(other[i]), "conv5", 1, seed=args.seed)
                            for i in range(len(a))])
    apps = [grey, generate(g, pyr, grey, "conv3", 1, seed=args.seed), generate(g, pyr, grey, "conv5", 1,
                                                                               seed=args.seed),
            drawing, generate(g, pyr, drawing, "conv3", 1, seed=args.seed),
            generate(g, pyr, drawing, "conv5", 1, seed=args.seed),
            a * (0.5 + 0.5 * hole), repaint(g, pyr, a, hole, "conv5", 1, seed=args.seed),
            (1 - hole) * b + hole * a, compose(g, pyr, a, b, 1 - hole, "conv5", 1, seed=args.seed),
            relabelled]
    save_image(image_grid(torch.stack(apps, 1).flatten(0, 1), nrow=len(apps)), RESULTS / f"{NAME}_applications.png")
    out = {"fid": rows, "measures": measures, "heldout_images": len(real), "div_refs": len(div_refs),
           "div_samples": args.div_samples, "inception_cpu_s_per_image": cost, "device": dev,
           "relabel_classes": other.tolist()}
    (WORK / "eval.json").write_text(json.dumps(out, indent=2))
    return out


def markdown(res: dict) -> str:
    from netprior.semantic_pyramid import LEVELS, TAPS

    t, e = res.get("train"), res.get("eval")
    lines = [f"## Semantic Pyramid (Shocher et al. 2020): FID per level, diversity vs fidelity ({res['machine']})", "",
             "Commands: " + ", ".join(f"`{c}`" for c in dict.fromkeys(res["commands"].values())), "",
             f"Machine: {res['machine']}; load average at start {res['load_average']}, at the end "
             f"{res['load_average_end']}. Collection: `netprior data make-default` (scikit-image photos and "
             "textures, generated faces, 64²), held-out split by file hash (10 %). Classifier: EfficientNet-Lite0 "
             "(offline) read at " + ", ".join(f"{l} = {TAPS['lite0'][l]}" for l in LEVELS) + " (the mapping to "
             "VGG-16's levels is in `netprior/semantic_pyramid.py`). Labels: the classifier's top-1 ImageNet "
             "class of each image.", ""]
    if t:
        c = t["config"]
        fl = t["final_losses"]
        lines += [(f"Budget: {t['iterations']} iterations (one D step + one G step), batch {c['batch']} "
                  f"({c['batch'] // 2} references × 2 noise vectors for G), resolution {c['resolution']}², width "
                  f"{c['width']} (G {res.get('g_params', '?')} M parameters), Adam lr {c['lr']:g} (paper 10⁻⁴) β = {tuple(c['betas'])}, "
                  f"α = {c['rec_weight']}, β = {c['div_weight']}, spatial masks p = {c['p_spatial']}, EMA "
                  f"{c['ema']}, seed {c['seed']} — the paper trained at 256² with batch 1024 for two days on a "
                  "4×4 TPU pod. "
                  f"**{t['seconds_per_step']:.2f} s per step** (wall, {t['device']}), {t['images_per_s']:.1f} real "
                  f"images / s; {t['wall_seconds'] / 60:.1f} min in all. Final losses (mean of the last logged "
                  f"window): D {fl.get('D/loss', float('nan')):.3f}, G adv {fl.get('G/adv', float('nan')):.3f}, "
                  f"rec {fl.get('G/rec', float('nan')):.3f}, div {fl.get('G/div', float('nan')):.3f}."), ""]
    if e:
        fid = e["fid"]
        lines += [(f"### Table 1 layout: FID per semantic level ({e['heldout_images']} held-out images, one sample "
                  "each, from that level's features alone)"), "",
                  "| | " + " | ".join(l.upper() for l in LEVELS) + " |", "|---|" + "---|" * len(LEVELS),
                  "| paper (Places365, 256², 6000 images) | " + " | ".join(f"{PAPER_FID[l]:.2f}" for l in LEVELS)
                  + " |",
                  "| this run: FID | " + " | ".join(f"{fid[l]['fid']:.1f}" for l in LEVELS) + " |",
                  "| this run: KID | " + " | ".join(f"{fid[l]['kid']:.3f}" for l in LEVELS) + " |",
                  "| this run: diversity (mean pairwise L1) | "
                  + " | ".join(f"{e['measures'][l]['diversity_l1']:.4f}" for l in LEVELS) + " |",
                  "| this run: distance to the reference (L1) | "
                  + " | ".join(f"{e['measures'][l]['fidelity_l1']:.4f}" for l in LEVELS) + " |", "",
                  (f"Real-vs-real floor (training images vs held-out, same count): FID {fid['floor']['fid']:.1f}, "
                  f"KID {fid['floor']['kid']:.4f} — FID from ~{e['heldout_images']} images is strongly biased "
                  "upward, so compare the levels with each other and with this floor, not with the paper's "
                  f"values. Diversity and distance: {e['div_refs']} held-out references × {e['div_samples']} "
                  "samples each, pixels in [0, 1], no truncation."), "", res.get("verdict", ""), "",
                  "Fig. 2 layout (top row: held-out references; then one sample from each level, conv1 → fc8):", "",
                  f"![levels]({NAME}_levels.png)", "",
                  f"Sheets per level (each row: reference, then {min(5, e['div_samples'])} samples): "
                  + ", ".join(f"[{l}]({NAME}_sheet_{l}.png)" for l in LEVELS) + ".", "",
                  ("Applications (columns: grey reference, from its conv3, from its conv5; line drawing, from its "
                  "conv3, from its conv5; re-paint region shown dimmed, re-painted from conv5; naive paste, "
                  "composed from conv5; re-labelled at conv5 to the class of another image):"), "",
                  f"![applications]({NAME}_applications.png)", "", f"![report]({NAME}_report.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="train,eval,report")
    ap.add_argument("--iters", type=int, default=800)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=4e-4, help="Adam learning rate of G and D (paper: 1e-4 for "
                    "two days at batch 1024; a CPU budget of ~10³ steps needs more)")
    ap.add_argument("--rec-weight", type=float, default=1.0, help="α (paper 0.1; with the mean-normalised L1 "
                    "of losses.masked_feature_l1 and ~10³ steps the reconstruction needs a larger weight)")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--heldout-limit", type=int, default=0, help="use only this many held-out images (0: all)")
    ap.add_argument("--div-refs", type=int, default=16)
    ap.add_argument("--div-samples", type=int, default=4)
    ap.add_argument("--collection", type=Path, default=ROOT / "benchmarks" / "out" / "default-collection")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--machine", default="2 shared CPU cores, torch on 1 thread")
    ap.add_argument("--verdict", default="", help="what the pictures show (written after looking at them)")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--name", default="pyramid", help="results/<name>.md, benchmarks/out/<name>/")
    args = ap.parse_args(argv)
    global WORK, NAME
    WORK, NAME = ROOT / "benchmarks" / "out" / args.name, args.name
    torch.set_num_threads(args.threads)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    command = "python benchmarks/pyramid.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    res_path = WORK / "results.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    res.setdefault("commands", {}).update({p: command for p in parts if p != "report"})
    if "train" in parts:
        (WORK / "checkpoint.safetensors").unlink(missing_ok=True)
        (WORK / "checkpoint.pyramid.json").unlink(missing_ok=True)
        res["load_average"] = [round(x, 1) for x in os.getloadavg()]
        res["machine"] = args.machine
        res["train"] = train_part(args)
    if "eval" in parts:
        res["eval"] = eval_part(args)
    if "sheets" in parts:
        sheets_part(args)
    for key, name in (("train", "train.json"), ("eval", "eval.json")):
        if key not in res and (WORK / name).exists():
            res[key] = json.loads((WORK / name).read_text())
    if (WORK / "generator.safetensors").exists():
        from netprior.recipes.pyramid import load_generator

        g, _ = load_generator(WORK / "generator.safetensors")
        res["g_params"] = round(sum(p.numel() for p in g.parameters()) / 1e6, 2)
    res.setdefault("load_average", [round(x, 1) for x in os.getloadavg()])
    res.setdefault("machine", args.machine)
    res["verdict"] = args.verdict or res.get("verdict", "")
    res["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    from netprior.report import versions

    res["versions"] = versions()
    res_path.write_text(json.dumps(res, indent=2))
    slim = {k: v for k, v in res.items() if k != "train"}
    slim["train"] = {k: v for k, v in res.get("train", {}).items() if k != "history"}
    (RESULTS / f"{NAME}.json").write_text(json.dumps(slim, indent=2))
    (RESULTS / f"{NAME}.md").write_text(markdown(res))
    print(f"wrote {RESULTS / (NAME + '.json')}, {RESULTS / (NAME + '.md')}")


if __name__ == "__main__":
    main()
