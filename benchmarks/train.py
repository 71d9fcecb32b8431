"""Loop 2 benchmark: a DCGAN trained on the offline default collection at 64², FID/KID on held-out images vs
iterations, and the cost of a training step (seconds, images/s, peak memory) on the CPU.

Parts (``--parts``, all by default; ``fid`` runs as two processes beside the ``train`` one):

* ``collection`` — build the default collection (``netprior data make-default``) into benchmarks/out/ unless it
  is there;
* ``speed`` — seconds per iteration (one D step + one G step) of the DCGAN at a few widths and batches, wall and
  CPU time, images/s, peak resident memory, each in a fresh process;
* ``train`` — the reference run: writes the EMA generator at the iterations listed in ``--evaluate-at``, the
  training report and the sample grid;
* ``fid`` — Inception features of the held-out split (centre crops), of ``--fid-images`` training images (the
  real-vs-real floor: FID on ~140 images is strongly biased upward, the floor is what a perfect generator would
  get) and of ``--fid-images`` samples of each saved generator (waiting for its file), cached per set; then the
  FID/KID table.  ``--parts report`` rebuilds results/train.md from the files in benchmarks/out/train.

    .venv/bin/python benchmarks/train.py     # ~20 min of CPU time on one thread (much longer wall time on a loaded machine)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "out" / "train"
COLLECTION = ROOT / "benchmarks" / "out" / "default-collection"


def collection(args) -> None:
    from netprior.data import make_default_collection

    if not (COLLECTION / "manifest.json").exists():
        make_default_collection(COLLECTION, size=64, seed=0, progress=args.progress)
    print(f"collection: {COLLECTION}", flush=True)


def datasets(seed: int, augment: bool = True):
    """The training split (random crops + flips, or centre crops) and the held-out split (centre crops)."""
    from netprior.data import ImageFolder

    train = ImageFolder(COLLECTION, 64, split="train", crop="random" if augment else "center", flip=augment,
                        seed=seed)
    held = ImageFolder(COLLECTION, 64, split="heldout", crop="center", flip=False, seed=seed)
    return train, held


def speed_worker(width: int, batch: int, iters: int) -> dict:
    from netprior.recipes.dcgan import DCGANConfig, train_dcgan

    train, _ = datasets(0)
    cfg = DCGANConfig(width=width, batch=batch, iters=iters, seed=0)
    cpu0 = time.process_time()
    r = train_dcgan(train, cfg, device="cpu", progress=False).result
    return {"width": width, "batch": batch, "iters": iters, "wall_s_per_iter": r.seconds / iters,
            "cpu_s_per_iter": (time.process_time() - cpu0) / iters, "images_per_s": r.images_per_second,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def speed(args) -> list[dict]:
    rows = []
    for width, batch in ((32, 32), (32, 64), (64, 64)):
        out = WORK / f"speed-{width}-{batch}.json"
        subprocess.run([sys.executable, __file__, "--worker", json.dumps([width, batch, args.speed_iters]),
                        "--worker-out", str(out), "--threads", str(args.threads)], check=True)
        rows.append(json.loads(out.read_text()))
        print(f"speed: width {width} batch {batch}: {rows[-1]['cpu_s_per_iter']:.2f} CPU s / iteration", flush=True)
    return rows


def snapshot_path(iteration: int) -> Path:
    return WORK / f"g-{iteration:06d}.safetensors"


def train_run(args) -> dict:
    from netprior.io import save_image
    from netprior.recipes.dcgan import DCGANConfig, players, train_dcgan
    from netprior.dcgan_model import save_generator
    from netprior.report import image_grid, write_training_report

    train, _ = datasets(args.seed)
    cfg = DCGANConfig(width=args.width, batch=args.batch, iters=args.iters, seed=args.seed, ema=args.ema)

    def keep(iteration: int, models: dict) -> dict:
        if iteration in args.evaluate_at:
            save_generator(models["G"], snapshot_path(iteration))
        return {}

    save_generator(players(cfg)[1].net, snapshot_path(0))  # the initial generator (same seed as the run)
    cpu0 = time.process_time()
    run = train_dcgan(train, cfg, device="cpu", progress=args.progress, checkpoint=WORK / "checkpoint.safetensors",
                      log=WORK / "log.jsonl", sample_every=max(1, args.iters // 4), evaluate=keep,
                      eval_every=1)  # keep() writes the generator at the --evaluate-at iterations only
    r = run.result
    save_image(image_grid(r.snapshots[-1][1]), RESULTS / "train_dcgan_samples.png")
    write_training_report(RESULTS / "train_dcgan_report.png", r.history, r.snapshots,
                          title=f"DCGAN 64², width {args.width}, batch {args.batch}, default collection")
    info = {"config": run.config, "iterations": r.iterations, "wall_seconds": r.seconds,
            "cpu_seconds": time.process_time() - cpu0, "images": r.images, "images_per_s": r.images_per_second,
            "peak_rss_mb": r.peak_memory_mb, "final_losses": {k: v[-1] for k, v in r.history.items()
                                                              if k != "iteration"}}
    (WORK / "train.json").write_text(json.dumps(info, indent=2))
    print(f"train: {r.iterations} iterations in {r.seconds:.0f} s", flush=True)
    return info


def feature_job(job: str, args) -> Path:
    """Inception features of one set, cached in benchmarks/out/train/feat-<job>.safetensors: ``heldout``,
    ``train`` (``--fid-images`` training images, centre crops, spread over the split) or ``gen-<it>-<a>-<b>``
    (samples a … b − 1 of the ``--fid-images`` samples of the EMA generator of iteration it; waits for its file).
    Jobs are split over processes so that the Inception network (0.65 CPU s per image at 299²) runs in parallel."""
    from safetensors.torch import save_file

    from netprior.evaluation import InceptionFeatures, extract
    from netprior.recipes.dcgan import generate
    from netprior.dcgan_model import load_generator

    out = WORK / f"feat-{job}.safetensors"
    if out.exists():
        return out
    train, held = datasets(args.seed, augment=False)
    cpu0 = time.process_time()
    if job == "heldout":
        images = [held[i] for i in range(len(held))]
    elif job == "train":
        step = max(1, len(train) // args.fid_images)
        images = [train[i] for i in range(0, len(train), step)][:args.fid_images]
    else:
        it, a, b = map(int, job.split("-")[1:])
        while not snapshot_path(it).exists():
            time.sleep(10)
        time.sleep(2)
        images = [generate(load_generator(snapshot_path(it)), args.fid_images, seed=args.seed + 1)[a:b]]
    feats = extract(images, InceptionFeatures("cpu"))
    save_file({"features": feats, "cpu_s_per_image": torch.tensor((time.process_time() - cpu0) / len(feats))},
              str(out))
    print(f"fid: features of {job} ({len(feats)} images)", flush=True)
    return out


def fid_table(args) -> dict:
    """FID/KID from the cached features: the real-vs-real floor and each evaluated iteration."""
    from safetensors.torch import load_file

    from netprior.evaluation import fid_kid

    def load(job: str) -> tuple[torch.Tensor, float]:
        d = load_file(str(WORK / f"feat-{job}.safetensors"))
        return d["features"], float(d["cpu_s_per_image"])

    held, cost = load("heldout")
    rows = [{"what": "training images (real) vs held-out: the floor", "iteration": None,
             **fid_kid(held, load("train")[0], kid_subset_size=100)}]
    for it in args.evaluate_at:
        parts = sorted(WORK.glob(f"feat-gen-{it}-*.safetensors"), key=lambda p: int(p.stem.split("-")[3]))
        if not parts:
            continue
        fake = torch.cat([load(p.stem.removeprefix("feat-"))[0] for p in parts])
        rows.append({"what": "EMA generator" if it else "initial generator", "iteration": it,
                     **fid_kid(held, fake, kid_subset_size=100)})
    return {"rows": rows, "heldout_images": len(held), "fake_images": args.fid_images,
            "inception_cpu_s_per_image": cost}


def markdown(res: dict) -> str:
    b, t, f = res["budget"], res.get("train"), res.get("fid")
    commands = list(dict.fromkeys(res["commands"].values()))
    lines = ["## Loop 2: DCGAN on the default collection (64², CPU)", "",
             "Commands: " + ", ".join(f"`{c}`" for c in commands) + " (then `--parts report` to assemble)", "",
             f"CPU, {b['threads']} thread, load average at start {res['load_average']} and at the end "
             f"{res['load_average_end']} (a shared 2-core machine: wall times are inflated by other jobs, CPU "
             "times are what one idle core would take). Collection: `netprior data make-default` (600 crops of the "
             "scikit-image photos, 200 of its textures, 600 faces sampled from the bundled DCGAN face generator, "
             "64²); held-out split by file hash, 10 %.", ""]
    if res.get("speed"):
        lines += ["### Cost of one iteration (one D step + one G step), 64², CPU", "",
                  "| G/D width | batch | CPU s / iteration | wall s / iteration | images / s (wall) | peak RSS MB |",
                  "|---|---|---|---|---|---|"]
        for r in res["speed"]:
            lines.append(f"| {r['width']} | {r['batch']} | {r['cpu_s_per_iter']:.3f} | {r['wall_s_per_iter']:.3f} | "
                         f"{r['images_per_s']:.1f} | {r['peak_rss_mb']:.0f} |")
        lines += ["", f"Each row: {res['speed'][0]['iters']} iterations in a fresh process (data loading included, "
                  "workers 0). Width 64 / batch 64 is the PyTorch DCGAN tutorial's network (the paper used 128 "
                  "filters and batch 128).", ""]
    if t and f:
        c = t["config"]
        lines += [f"### FID vs iterations (width {c['width']}, batch {c['batch']}, Adam 2·10⁻⁴ β=(0.5, 0.999), "
                  f"EMA {c['ema']}, seed {c['seed']})", "",
                  f"Training: {t['iterations']} iterations, {t['cpu_seconds'] / 60:.1f} CPU min "
                  f"({t['wall_seconds'] / 60:.1f} min wall), {t['images_per_s']:.1f} real images / s (wall). "
                  f"FID/KID: {f['fake_images']} samples of the EMA generator against the {f['heldout_images']} "
                  f"held-out images (centre crops), Inception-v3 FID network; KID over 100 subsets of 100. "
                  f"Inception costs {f['inception_cpu_s_per_image']:.2f} CPU s per image here.", "",
                  "| generator | iteration | FID ↓ | KID ↓ (± std) |", "|---|---|---|---|"]
        for r in f["rows"]:
            it = "—" if r["iteration"] is None else r["iteration"]
            lines.append(f"| {r['what']} | {it} | {r['fid']:.1f} | {r['kid']:.4f} ± {r['kid_std']:.4f} |")
        lines += ["", "FID from ~140 images per side is far above the values papers report from 50 000 (its bias "
                  "grows as the sets shrink); compare rows of this table, and with the real-vs-real floor, not "
                  "with published numbers. Paper: DCGAN reports no FID (FID came a year later).", "",
                  res.get("verdict", ""), "", "![samples](train_dcgan_samples.png)", "",
                  "![report](train_dcgan_report.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="collection,speed,train,fid",
                    help="comma-separated; 'report' alone rebuilds train.md from the files in benchmarks/out/train")
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--evaluate-at", default="0,200,400")
    ap.add_argument("--fid-images", type=int, default=140)
    ap.add_argument("--speed-iters", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--verdict", default="", help="what the samples look like (written after looking at them)")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--worker")
    ap.add_argument("--worker-out")
    ap.add_argument("--features", help="feature jobs for this process (see feature_job), comma-separated")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.evaluate_at = [int(x) for x in args.evaluate_at.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.worker:
        Path(args.worker_out).write_text(json.dumps(speed_worker(*json.loads(args.worker))))
        return
    if args.features:
        for job in args.features.split(","):
            feature_job(job, args)
        return
    parts = args.parts.split(",")
    command = "python benchmarks/train.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    res_path = WORK / "results.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    res.setdefault("commands", {}).update({part: command for part in parts if part != "report"})
    res.update(load_average=res.get("load_average") or [round(x, 1) for x in os.getloadavg()],
               budget={"threads": args.threads, "iters": args.iters, "width": args.width, "batch": args.batch,
                       "fid_images": args.fid_images, "evaluate_at": args.evaluate_at})
    if "collection" in parts:
        collection(args)
    if "speed" in parts:
        res["speed"] = speed(args)
    elif "speed" not in res and list(WORK.glob("speed-*.json")):
        res["speed"] = [json.loads(p.read_text()) for p in sorted(WORK.glob("speed-*.json"))]
    if "train" in parts:
        for p in WORK.glob("g-*.safetensors"):
            p.unlink()
        (WORK / "checkpoint.safetensors").unlink(missing_ok=True)
    procs = []
    if "fid" in parts:  # two feature processes beside the training one; the generated sets are split between them
        n, last, mid = args.fid_images, args.evaluate_at[-1], args.fid_images // 2
        gens = [f"gen-{it}-0-{n}" for it in args.evaluate_at[:-1]]
        jobs = [["heldout", "train", f"gen-{last}-{mid}-{n}"], [*gens, f"gen-{last}-0-{mid}"]]
        procs = [subprocess.Popen([sys.executable, __file__, "--features", ",".join(j), "--fid-images", str(n),
                                   "--seed", str(args.seed), "--threads", str(args.threads)]) for j in jobs]
    if "train" in parts:
        res["train"] = train_run(args)
    if all(p.wait() == 0 for p in procs) and (WORK / "feat-heldout.safetensors").exists():
        res["fid"] = fid_table(args)
    if "train" not in res and (WORK / "train.json").exists():
        res["train"] = json.loads((WORK / "train.json").read_text())
    res["verdict"] = args.verdict or res.get("verdict", "")
    res["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    from netprior.report import versions

    res["versions"] = versions()
    res_path.write_text(json.dumps(res, indent=2))
    shutil.copy(res_path, RESULTS / "train.json")
    (RESULTS / "train.md").write_text(markdown(res))
    print(f"wrote {RESULTS / 'train.json'}, {RESULTS / 'train.md'}")


if __name__ == "__main__":
    main()
