"""AGE benchmark (thesis ch. 4): an unconditional AGE and the DCGAN reference trained on the same faces for about
the same CPU time, FID/KID of samples and of reconstructions against held-out faces, reconstruction error, and the
conditional (colourisation) AGE: colourings, their diversity, and colour transfer.

Data: DCGAN-sampled faces (``netprior data make-default`` with only the faces part, ``--faces`` of them, 64²) in
benchmarks/out/age/faces; held-out split by file hash, 10 %.  Parts (``--parts``, comma-separated; run as separate
processes to use two cores, then ``report``):

* ``data`` — make the faces;
* ``age`` / ``dcgan`` / ``colorize`` — train (each writes its model, log and sample grid into benchmarks/out/age/);
* ``fid`` — Inception features and the FID/KID table (held-out vs: training faces (the floor), AGE samples,
  AGE reconstructions of the held-out faces, DCGAN samples, the initial AGE generator);
* ``milestones`` — the learning curve of runs trained with ``--age-milestones`` / ``--dcgan-milestones`` (one run
  that writes a model at each milestone and resumes from its checkpoint): reconstruction error, collapse monitor and
  FID/KID at each milestone (``--milestone-fid`` picks which get FID), and picture sheets;
* ``report`` — figures and results/age.{json,md}.

    nice -n 10 python benchmarks/age.py --parts data
    nice -n 10 python benchmarks/age.py --parts age &  nice -n 10 python benchmarks/age.py --parts dcgan
    nice -n 10 python benchmarks/age.py --parts colorize,fid,report

The results in benchmarks/results/age.md come from one longer run with milestones:

    nice -n 10 python benchmarks/age.py --parts age --age-iters 1000 --warmup-iters 100 --age-milestones 300,600
    nice -n 10 python benchmarks/age.py --parts dcgan --dcgan-iters 3000 --dcgan-milestones 450,1000,1500,2000,2500
    nice -n 10 python benchmarks/age.py --parts milestones,fid,report --milestone-fid 300,600,1000,2000,3000

The plain thesis game (no warm-up, μ_G = 0) collapses at this budget — g stays at its initial grey noise (FID 461
against DCGAN's 334 in the run of 2026-11-26 morning); with the warm-up and μ_G but the thesis' encoder loss (w = 1)
the encoder collapses the codes of real images (every reconstruction one average face).  The causes and the
measurements that led to the warm-up, μ_G and w = 4 are in docs/methods/age.md; the held-out codes' mean cosine and
spread (the collapse monitor) are reported beside the reconstruction error.
``--warmup-fraction 0 --generator-pixel-weight 0 --real-weight 1 --ema 0 --latent-weight 1000 --upsample transposed``
runs the plain game.

``AGE_SCALE`` (environment) multiplies every iteration count (e.g. 0.02 for a smoke test); ``--device cuda`` for
the GPU script benchmarks/gpu_age.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = Path(os.environ.get("AGE_WORK", ROOT / "benchmarks" / "out" / "age"))
FACES = WORK / "faces"
SCALE = float(os.environ.get("AGE_SCALE", "1"))


def iters(n: int) -> int:
    return max(2, round(n * SCALE))


def datasets(seed: int = 0, augment: bool = True):
    from netprior.data import ImageFolder

    train = ImageFolder(FACES, 64, split="train", crop="random" if augment else "center", flip=augment, seed=seed)
    held = ImageFolder(FACES, 64, split="heldout", crop="center", flip=False, seed=seed)
    return train, held


def make_data(args) -> None:
    from netprior.data import make_default_collection

    if not (FACES / "manifest.json").exists():
        make_default_collection(FACES, size=64, seed=args.seed, counts={"photos": 0, "textures": 0,
                                                                        "faces": args.faces}, progress=False)
    print(f"data: {FACES}", flush=True)


def _record(name: str, run, cpu0: float, extra: dict | None = None) -> dict:
    r = run.result
    info = {"config": run.config, "iterations": r.iterations, "wall_seconds": r.seconds,
            "cpu_seconds": time.process_time() - cpu0, "images_per_s": r.images_per_second,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "final": {k: v[-1] for k, v in r.history.items() if k != "iteration"}, **(extra or {})}
    (WORK / f"{name}.json").write_text(json.dumps(info, indent=2))
    print(f"{name}: {r.iterations} iterations, {info['cpu_seconds'] / 60:.1f} CPU min", flush=True)
    return info


def train_age_part(args, mode: str, name: str | None = None, autoencoder_only: bool = False) -> None:
    """Train one AGE; ``autoencoder_only``: the warm-up for the whole budget (the ablation without the game).
    With ``--age-milestones`` (unconditional run) the run stops at each milestone, writes
    ``age-it<N>.safetensors`` and a record, and resumes from its checkpoint: the milestones of one run."""
    from netprior.recipes.age import AGEConfig

    name = name or ("age" if mode == "unconditional" else "colorize")
    n = iters(args.age_iters if mode == "unconditional" else args.colorize_iters)
    warmup = n if autoencoder_only else (iters(args.warmup_iters) if args.warmup_iters is not None
                                         else round(n * args.warmup_fraction))
    cfg = AGEConfig(mode=mode, nz=args.nz if mode == "unconditional" else 3, iters=n,
                    batch=args.batch if mode == "unconditional" else args.colorize_batch,
                    width=args.width if mode == "unconditional" else args.colorize_width, seed=args.seed,
                    warmup=warmup, generator_pixel_weight=args.generator_pixel_weight,
                    ema=args.ema or None, real_weight=args.real_weight if mode == "unconditional" else 1.0,
                    upsample=args.upsample if mode == "unconditional" else "transposed",
                    encoder_antialias=args.encoder_antialias and mode == "unconditional",
                    latent_weight=args.latent_weight if mode == "unconditional" else args.colorize_latent_weight)
    if name == "age" and args.age_milestones:
        for m in _milestones(args.age_milestones, n):
            if _milestone_done(name, replace(cfg, iters=m)):
                print(f"{name}: milestone {m} already written, kept", flush=True)
                continue
            _train_age_run(args, replace(cfg, iters=m), name, milestone=True)
    else:
        _train_age_run(args, cfg, name)


def _train_age_run(args, cfg, name: str, milestone: bool = False) -> None:
    """Train (or resume from ``<name>.checkpoint.safetensors`` up to) ``cfg.iters`` iterations and write the model,
    samples, report and record; ``milestone``: also ``<name>-it<N>.safetensors`` and its record, whose CPU time
    adds that of the earlier milestones' records (so the record survives a restart of the process)."""
    from netprior.io import save_image
    from netprior.recipes.age import players, save_model, train_age
    from netprior.report import image_grid, write_training_report

    train, _ = datasets(args.seed)
    n, mode = cfg.iters, cfg.mode
    if name == "age":
        e0, g0 = (p.net for p in players(cfg))
        save_model(e0, g0, cfg, WORK / "age-initial.safetensors")
    cpu0 = time.process_time()
    run = train_age(train, cfg, device=args.device, progress=args.progress, sample_every=max(1, n // 4),
                    log=WORK / f"{name}.log.jsonl", checkpoint=WORK / f"{name}.checkpoint.safetensors")
    save_model(run.encoder, run.generator, cfg, WORK / f"{name}.safetensors", training=run.config)
    save_image(image_grid(run.result.snapshots[-1][1]), WORK / f"{name}_samples.png")
    write_training_report(WORK / f"{name}_report.png", run.result.history, run.result.snapshots,
                          title=f"AGE ({mode}), 64², width {cfg.width}, batch {cfg.batch}, DCGAN faces")
    if milestone:
        save_model(run.encoder, run.generator, cfg, WORK / f"{name}-it{n}.safetensors", training=run.config)
    _finish(name, run, cpu0, milestone)


def _milestone_done(name: str, cfg) -> bool:
    """Whether ``<name>-it<N>`` (N = ``cfg.iters``; AGE or DCGAN) has its model and a record of the same
    configuration.  A run extended past its last milestone resumes from a later checkpoint, and retraining an earlier
    milestone would only rewrite its model and record with the later ones."""
    record, model = WORK / f"{name}-it{cfg.iters}.json", WORK / f"{name}-it{cfg.iters}.safetensors"
    if not (record.exists() and model.exists()):
        return False
    saved = json.loads(record.read_text()).get("config", {})
    wanted = json.loads(json.dumps(asdict(cfg)))  # as the record stores it (tuples become lists)
    return all(saved.get(k) == v for k, v in wanted.items())


def _milestones(spec: str, total: int) -> list[int]:
    """The iteration counts of ``--*-milestones`` (scaled by AGE_SCALE) and the run's total, ascending."""
    return sorted({iters(int(x)) for x in spec.split(",") if x} | {total})


def _finish(name: str, run, cpu0: float, milestone: bool) -> None:
    """Write ``<name>.json``; for a milestone also ``<name>-it<N>.json``, whose CPU time adds that of the last
    earlier milestone's record (the run resumed from its checkpoint, possibly in another process)."""
    if not milestone:
        _record(name, run, cpu0)
        return
    n = run.result.iterations
    earlier = [json.loads(p.read_text()) for p in WORK.glob(f"{name}-it*.json")]
    earlier = sorted((r for r in earlier if r["iterations"] < n), key=lambda r: r["iterations"])
    info = _record(f"{name}-it{n}", run, cpu0 - (earlier[-1]["cpu_seconds"] if earlier else 0.0))
    (WORK / f"{name}.json").write_text(json.dumps(info, indent=2))


def train_dcgan_part(args) -> None:
    from netprior.io import save_image
    from netprior.dcgan_model import save_generator
    from netprior.recipes.dcgan import DCGANConfig, train_dcgan
    from netprior.report import image_grid

    train, _ = datasets(args.seed)
    n = iters(args.dcgan_iters)
    for m in _milestones(args.dcgan_milestones, n) if args.dcgan_milestones else [n]:
        cfg = DCGANConfig(width=args.width, batch=args.batch, iters=m, seed=args.seed)
        if args.dcgan_milestones and _milestone_done("dcgan", cfg):
            print(f"dcgan: milestone {m} already written, kept", flush=True)
            continue
        cpu0 = time.process_time()
        run = train_dcgan(train, cfg, device=args.device, progress=args.progress, log=WORK / "dcgan.log.jsonl",
                          checkpoint=WORK / "dcgan.checkpoint.safetensors")
        save_generator(run.generator, WORK / "dcgan.safetensors", training=run.config)
        if args.dcgan_milestones:
            save_generator(run.generator, WORK / f"dcgan-it{m}.safetensors", training=run.config)
        save_image(image_grid(run.result.snapshots[-1][1]), WORK / "dcgan_samples.png")
        _finish("dcgan", run, cpu0, bool(args.dcgan_milestones))


def _features(job: str, images_fn, args) -> torch.Tensor:
    from safetensors.torch import load_file, save_file

    from netprior.evaluation import InceptionFeatures, extract

    out = WORK / f"feat-{job}.safetensors"
    if out.exists():
        return load_file(str(out))["features"]
    feats = extract([images_fn()], InceptionFeatures(args.device), device=args.device)
    save_file({"features": feats}, str(out))
    return feats


def _colour_grain(images: torch.Tensor, real: torch.Tensor) -> float:
    """The colour speckle of ``images``: their mean chroma high-frequency share (netprior.evaluation.grain) divided
    by that of the ``real`` faces (1: as much fine colour detail as the faces)."""
    from netprior.evaluation.grain import high_frequency_share

    def share(xs):
        return sum(high_frequency_share(x[None], chroma=True) for x in xs) / len(xs)

    return share(images) / share(real)


def _errors(rec: torch.Tensor, x: torch.Tensor) -> dict:
    """Reconstruction error of ``rec`` against ``x``: L1 per pixel (in [0, 1]) and the mean per-image PSNR."""
    from netprior.metrics import psnr

    return {"l1": float((rec - x).abs().mean()),
            "psnr": float(sum(psnr(a[None], b[None]) for a, b in zip(rec, x)) / len(x))}


def _milestone_files(name: str) -> list[tuple[int, Path]]:
    """(iterations, path) of the ``<name>-it<N>.safetensors`` models a milestone run wrote, ascending."""
    return sorted((int(p.name.removesuffix(".safetensors").rsplit("-it", 1)[1]), p)
                  for p in WORK.glob(f"{name}-it*.safetensors"))


def milestones_part(args) -> dict:
    """The learning curve: for every AGE milestone (``--age-milestones``) the held-out reconstruction error, the
    collapse monitor, the colour grain and FID/KID of its samples and reconstructions; FID/KID of every DCGAN
    milestone; sheets of 8 held-out faces' reconstructions and of 8 samples (fixed codes) at each AGE milestone."""
    from netprior.dcgan_model import load_generator
    from netprior.evaluation import fid_kid
    from netprior.io import save_image
    from netprior.recipes.age import code_statistics, encode, load_model, recalibrate_encoder, reconstruct, sample
    from netprior.recipes.dcgan import generate
    from netprior.report import image_grid

    train, held = datasets(args.seed, augment=False)
    x_held = torch.stack([held[i] for i in range(len(held))])
    x_train = torch.stack([train[i] for i in range(len(x_held))])  # as many training faces, centre crops
    real = _features("heldout", lambda: x_held, args)

    fid_at = {iters(int(x)) for x in args.milestone_fid.split(",") if x} if args.milestone_fid else None

    def score(job, images_fn):
        cached = (WORK / f"feat-{job}.safetensors").exists()
        if fid_at is not None and int(job.split("-it")[1].split("-")[0]) not in fid_at and not cached:
            return None
        f = _features(job, images_fn, args)
        return fid_kid(real, f, kid_subset_size=min(100, len(f), len(real)))

    def cpu(name, n):
        return json.loads((WORK / f"{name}-it{n}.json").read_text())["cpu_seconds"]

    out: dict = {"age": [], "dcgan": [], "heldout_images": len(x_held)}
    recs, samples = [x_held[:8]], []
    for n, path in _milestone_files("age"):
        e, g, cfg = load_model(path, args.device)
        recalibrate_encoder(e, train, cfg)
        rec = reconstruct(e, g, x_held)
        out["age"].append({"iterations": n, "cpu_seconds": cpu("age", n), **_errors(rec, x_held),
                           "training_faces": _errors(reconstruct(e, g, x_train), x_train),
                           "colour_grain": _colour_grain(rec, x_held), "codes": code_statistics(encode(e, x_held)),
                           "samples": score(f"age-it{n}-samples",
                                            lambda g=g: sample(g, args.fid_images, seed=args.seed + 1)),
                           "reconstructions": score(f"age-it{n}-reconstructions", lambda rec=rec: rec)})
        recs.append(rec[:8])
        samples.append(sample(g, 8, seed=args.seed + 1))
        print(f"milestone {n}: L1 {out['age'][-1]['l1']:.4f}", flush=True)
    for n, path in _milestone_files("dcgan"):
        g = load_generator(path, args.device)
        out["dcgan"].append({"iterations": n, "cpu_seconds": cpu("dcgan", n), "samples": score(
            f"dcgan-it{n}-samples", lambda g=g: generate(g, args.fid_images, seed=args.seed + 1))})
    if samples:
        save_image(image_grid(torch.cat(recs), nrow=8), RESULTS / f"{args.name}_milestone_reconstructions.png")
        save_image(image_grid(torch.cat(samples), nrow=8), RESULTS / f"{args.name}_milestone_samples.png")
    (WORK / "milestones.json").write_text(json.dumps(out, indent=2))
    return out


def fid_part(args) -> dict:
    """FID/KID against the held-out faces and reconstruction errors (L1 per pixel in [0, 1], PSNR)."""
    from netprior.evaluation import fid_kid
    from netprior.recipes.age import code_statistics, encode, load_model, recalibrate_encoder, reconstruct, sample
    from netprior.dcgan_model import load_generator
    from netprior.recipes.dcgan import generate

    train, held = datasets(args.seed, augment=False)
    x_held = torch.stack([held[i] for i in range(len(held))])
    step = max(1, len(train) // args.fid_images)
    x_train = torch.stack([train[i] for i in range(0, len(train), step)][:args.fid_images])
    e, g, cfg = load_model(WORK / "age.safetensors", args.device)
    e0, g0, _ = load_model(WORK / "age-initial.safetensors", args.device)
    recalibrate_encoder(e, train, cfg)  # idempotent; models trained before train_age recalibrated need it
    recalibrate_encoder(e0, train, cfg)
    rec = reconstruct(e, g, x_held)
    sets = {"heldout": lambda: x_held, "train": lambda: x_train,
            "age-samples": lambda: sample(g, args.fid_images, seed=args.seed + 1),
            "age-reconstructions": lambda: rec,
            "age-initial-samples": lambda: sample(g0, args.fid_images, seed=args.seed + 1),
            "dcgan-samples": lambda: generate(load_generator(WORK / "dcgan.safetensors", args.device),
                                              args.fid_images, seed=args.seed + 1)}
    names = {"train": "training faces (real): the floor", "age-samples": "AGE samples g(z)",
             "age-reconstructions": "AGE reconstructions g(e(x)) of the held-out faces",
             "dcgan-samples": "DCGAN samples (EMA generator)", "age-initial-samples": "initial AGE generator"}
    if (WORK / "age-autoencoder.safetensors").exists():  # the ablation: the warm-up for the whole budget, no game
        ea, ga, _ = load_model(WORK / "age-autoencoder.safetensors", args.device)
        recalibrate_encoder(ea, train, cfg)
        rec_ae = reconstruct(ea, ga, x_held)
        sets.update({"ae-samples": lambda: sample(ga, args.fid_images, seed=args.seed + 1),
                     "ae-reconstructions": lambda: rec_ae})
        names.update({"ae-samples": "no game (autoencoder warm-up for all iterations): g(z)",
                      "ae-reconstructions": "no game: g(e(x)) of the held-out faces"})
    feats = {k: _features(k, f, args) for k, f in sets.items()}
    rows = [{"what": names[k], "set": k, "images": len(feats[k]),
             **fid_kid(feats["heldout"], feats[k], kid_subset_size=min(100, len(feats[k]), len(x_held)))}
            for k in names]
    recon = {**_errors(rec, x_held), "l1_initial": _errors(reconstruct(e0, g0, x_held), x_held)["l1"]}
    if "ae-reconstructions" in sets:
        recon.update({f"{k}_no_game": v for k, v in _errors(rec_ae, x_held).items()})
    recon["colour_grain"] = _colour_grain(rec, x_held)
    if "ae-reconstructions" in sets:
        recon["colour_grain_no_game"] = _colour_grain(rec_ae, x_held)
    codes = {"age": code_statistics(encode(e, x_held)), "initial": code_statistics(encode(e0, x_held))}
    if "ae-reconstructions" in sets:
        codes["no_game"] = code_statistics(encode(ea, x_held))
    res = {"rows": rows, "heldout_images": len(x_held), "reconstruction": recon, "codes": codes}
    (WORK / "fid.json").write_text(json.dumps(res, indent=2))
    print("fid: " + ", ".join(f"{r['set']} {r['fid']:.1f}" for r in rows), flush=True)
    return res


def colorize_eval(args) -> dict:
    """On held-out faces: ab error of the reconstruction g(e(ab|L)|L), of the mean and best of K = 8 colourings,
    their diversity (mean pairwise ab distance), and the figures (colourings, colour transfer)."""
    from netprior.colorspace import rgb_to_lab
    from netprior.io import save_image
    from netprior.recipes.age import codes_for, colorize, encode_colours, grey, load_model, recalibrate_encoder
    from netprior.report import image_grid

    e, g, cfg = load_model(WORK / "colorize.safetensors", args.device)
    train, held = datasets(args.seed, augment=False)
    recalibrate_encoder(e, train, cfg)
    x = torch.stack([held[i] for i in range(len(held))])
    ab_true = rgb_to_lab(x)[:, 1:]
    codes = codes_for(8, cfg.nz, args.seed)
    outs = torch.stack([colorize(g, x[i:i + 1], codes, size=cfg.size) for i in range(len(x))])  # (N, K, 3, H, W)
    ab = rgb_to_lab(outs.flatten(0, 1))[:, 1:].unflatten(0, outs.shape[:2])
    err = (ab - ab_true[:, None]).abs().mean((2, 3, 4))                                  # (N, K)
    rec = torch.cat([colorize(g, x[i:i + 1], encode_colours(e, x[i:i + 1]), size=cfg.size) for i in range(len(x))])
    rec_err = (rgb_to_lab(rec)[:, 1:] - ab_true).abs().mean()
    pair = (ab[:, :, None] - ab[:, None]).abs().mean((3, 4, 5))
    k = ab.shape[1]
    diversity = float(pair.sum((1, 2)).mean() / (k * (k - 1)))
    grey_err = float(ab_true.abs().mean())
    n = min(6, len(x) // 2)
    rows = [torch.cat([x[i:i + 1], grey(x[i:i + 1]), outs[i]]) for i in range(n)]
    save_image(image_grid(torch.cat(rows), nrow=10), RESULTS / f"{args.name}_colorize.png")
    src, dst = x[:n], x[n:2 * n]
    transfer = torch.cat([colorize(g, dst[i:i + 1], encode_colours(e, src[i:i + 1]), size=cfg.size)
                          for i in range(len(src))])
    save_image(image_grid(torch.stack([src, grey(dst), transfer, dst], 1).flatten(0, 1), nrow=4),
               RESULTS / f"{args.name}_colour_transfer.png")
    return {"heldout_images": len(x), "ab_l1_reconstruction": float(rec_err),
            "ab_l1_colouring_mean": float(err.mean()), "ab_l1_colouring_best_of_8": float(err.min(1).values.mean()),
            "ab_l1_grey": grey_err, "diversity_ab_l1": diversity}


def figures(args) -> None:
    from netprior.io import save_image
    from netprior.recipes.age import encode, interpolate, load_model, recalibrate_encoder, reconstruct, sample
    from netprior.dcgan_model import load_generator
    from netprior.recipes.dcgan import generate
    from netprior.report import image_grid

    e, g, cfg = load_model(WORK / "age.safetensors", args.device)
    train, held = datasets(args.seed, augment=False)
    recalibrate_encoder(e, train, cfg)
    x = torch.stack([held[i] for i in range(min(32, len(held)) // 2 * 2)])
    save_image(image_grid(sample(g, 64, seed=args.seed + 1), nrow=8), RESULTS / f"{args.name}_samples.png")
    save_image(image_grid(torch.stack([x, reconstruct(e, g, x)], 1).flatten(0, 1), nrow=8),
               RESULTS / f"{args.name}_reconstructions.png")
    z = encode(e, x[:8])
    path = torch.cat([interpolate(g, z[i], z[i + 1], 8) for i in range(0, len(z), 2)])
    save_image(image_grid(path, nrow=8), RESULTS / f"{args.name}_interpolation.png")
    save_image(image_grid(generate(load_generator(WORK / "dcgan.safetensors"), 64, seed=args.seed + 1), nrow=8),
               RESULTS / f"{args.name}_dcgan_samples.png")


def _schedule(cfg: dict) -> str:
    """The departures from the thesis' plain game (recipes/age.py says why a CPU budget needs them)."""
    warmup = cfg.get("warmup", 0)
    return ((f"autoencoder warm-up for the first {warmup} iterations, then " if warmup else "no warm-up, ")
            + f"the game with μ_G = "
            f"{cfg.get('generator_pixel_weight', 0):g} (L_X in g's loss too) and w = {cfg.get('real_weight', 1):g} "
            "(weight of Δ(e(X)‖N) in e's loss), sampling generator "
            + (f"averaged (EMA {cfg['ema']})" if cfg.get("ema") else "not averaged"))


def _codes_line(f: dict) -> str:
    """The collapse monitor: statistics of the held-out faces' codes e(x) (netprior.recipes.age.code_statistics)."""
    if "codes" not in f:
        return ""
    c = f["codes"]
    parts = [f"{what} {c[k]['cosine']:.3f} / {c[k]['spread']:.2f}" for k, what in
             (("age", "AGE"), ("no_game", "no game"), ("initial", "initial networks")) if k in c]
    return ("Collapse monitor, codes e(x) of the held-out faces — mean cosine between two faces' codes (0 when "
            "spread uniformly over the sphere, 1 when every face gets the same code) / per-dimension spread "
            "√M·mean_j s_j (1 uniform): " + "; ".join(parts) + ".")


def _images(record: dict) -> int:
    """Real images a training run drew (cumulative over resumed runs, like its wall seconds)."""
    return round(record["images_per_s"] * record["wall_seconds"])


def _fid_cells(score: dict | None) -> str:
    return f"{score['fid']:.1f} | {score['kid']:.4f}" if score else "– | –"


def _learning_curve(m: dict, name: str) -> list[str]:
    """The milestone tables of one AGE run and one DCGAN run (``--parts milestones``) and their picture sheets."""
    lines = ["### Learning curve (milestones of the one AGE run and of the DCGAN run)", "",
             (f"Held-out faces ({m['heldout_images']}; L1 per pixel in [0, 1]) and as many training faces (centre "
              "crops, not flipped: what the networks were fitted to); CPU minutes are cumulative over the run "
              "(resumed from its checkpoint at each milestone, 1 thread); FID/KID as in the table above (– : not "
              "measured at that milestone, to save CPU)."), "",
             ("| AGE iterations | CPU min | L1 ↓ | PSNR ↑ | L1 / PSNR, training faces | colour grain | "
              "code cosine / spread | FID samples ↓ | KID samples | FID reconstructions ↓ | KID reconstructions |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in m["age"]:
        t = r["training_faces"]
        lines.append(f"| {r['iterations']} | {r['cpu_seconds'] / 60:.1f} | {r['l1']:.4f} | {r['psnr']:.2f} dB | "
                     f"{t['l1']:.4f} / {t['psnr']:.2f} dB | "
                     f"{r['colour_grain']:.1f} | {r['codes']['cosine']:.3f} / {r['codes']['spread']:.2f} | "
                     f"{_fid_cells(r['samples'])} | {_fid_cells(r['reconstructions'])} |")
    if m["dcgan"]:
        lines += ["", "| DCGAN iterations | CPU min | FID samples ↓ | KID samples |", "|---|---|---|---|"]
        lines += [f"| {r['iterations']} | {r['cpu_seconds'] / 60:.1f} | {_fid_cells(r['samples'])} |"
                  for r in m["dcgan"]]
    return lines + ["", ("Reconstructions at each milestone (first row: 8 held-out faces; then one row per AGE "
                         "milestone, top to bottom) and samples g(z) of 8 fixed codes (one row per milestone):"), "",
                    (f"![milestone reconstructions]({name}_milestone_reconstructions.png) "
                     f"![milestone samples]({name}_milestone_samples.png)"), ""]


def markdown(res: dict, name: str = "age") -> str:
    a, d, c, f = res.get("age"), res.get("dcgan"), res.get("colorize"), res.get("fid")
    lines = [f"## AGE: adversarial generator-encoder networks (thesis ch. 4, 64², {res['device']})", "",
             "Command: " + " ; ".join(f"`{x}`" for x in dict.fromkeys(res["commands"].values())), "",
             f"Machine: {res['machine']}. Data: {res['faces']} faces sampled from the bundled DCGAN face generator "
             "(`netprior data make-default --photos 0 --textures 0`), 64², held-out split by file hash (10 %).", ""]
    if a and d and f:
        ca, cd = a["config"], d["config"]
        sizes = sorted({r["images"] for r in f["rows"]} | {f["heldout_images"]})
        n_images = f"{sizes[0]}–{sizes[-1]}" if len(sizes) > 1 else str(sizes[0])
        lines += ["### Unconditional AGE and the DCGAN reference", "",
                  f"AGE: M = {ca['nz']}, width {ca['width']}, batch {ca['batch']}, λ = {ca['latent_weight']:g}, "
                  f"μ = {ca['pixel_weight']:g} (L_X on images in [−1, 1]), {ca['g_steps']} G steps per E step, "
                  f"Adam 2·10⁻⁴, generator up-sampling {ca.get('upsample', 'transposed')}, "
                  f"{_schedule(ca)}; "
                  f"{a['iterations']} iterations in {a['cpu_seconds'] / 60:.1f} CPU min "
                  f"({a['wall_seconds'] / 60:.1f} min wall, {_images(a)} real images drawn). DCGAN: width "
                  f"{cd['width']}, batch {cd['batch']}, EMA {cd['ema']}; {d['iterations']} iterations in "
                  f"{d['cpu_seconds'] / 60:.1f} CPU min ({d['wall_seconds'] / 60:.1f} min wall, {_images(d)} real "
                  f"images drawn). FID/KID against the {f['heldout_images']} held-out "
                  "faces (Inception-v3 FID network; KID over 100 subsets).", "",
                  "| images | n | FID ↓ | KID ↓ (± std) |", "|---|---|---|---|"]
        for r in f["rows"]:
            lines.append(f"| {r['what']} | {r['images']} | {r['fid']:.1f} | {r['kid']:.4f} ± {r['kid_std']:.4f} |")
        rc = f["reconstruction"]
        lines += ["", f"Reconstruction of the held-out faces, g(e(x)): L1 {rc['l1']:.4f} per pixel (in [0, 1]), "
                  f"PSNR {rc['psnr']:.2f} dB; the initial (untrained) networks give L1 {rc['l1_initial']:.4f}"
                  + (f"; without the game (autoencoder warm-up for all {a['iterations']} iterations) L1 "
                     f"{rc['l1_no_game']:.4f}, PSNR {rc['psnr_no_game']:.2f} dB" if "l1_no_game" in rc else "")
                  + "." + (f" Colour speckle (chroma power above half the Nyquist frequency, relative to the held-out "
                           f"faces'; 1 = as much fine colour detail as the faces): {rc['colour_grain']:.1f}"
                           + (f", no game {rc['colour_grain_no_game']:.1f}" if "colour_grain_no_game" in rc else "")
                           + "." if "colour_grain" in rc else ""), "", _codes_line(f), "",
                  f"FID on {n_images} images per side is strongly biased upward; compare the rows with each other and "
                  "with the real-vs-real floor. Thesis reference: Figs. 4.2–4.3 (CelebA/Tiny ImageNet samples and "
                  "reconstructions after 10 epochs of CelebA on a GPU); the thesis reports no FID.", "",
                  res.get("verdict_age", ""), "",
                  "AGE samples / reconstructions (odd columns real held-out faces, even columns g(e(x))) / "
                  "interpolations on the sphere between pairs of encoded faces / DCGAN samples:", "",
                  f"![age samples]({name}_samples.png) ![age reconstructions]({name}_reconstructions.png)", "",
                  f"![age interpolation]({name}_interpolation.png) ![dcgan samples]({name}_dcgan_samples.png)", ""]
        if res.get("milestones"):
            lines += _learning_curve(res["milestones"], name)
    if c:
        cc, m = c["config"], c["metrics"]
        lines += ["### Conditional AGE: colourisation in Lab space (§4.3.2)", "",
                  f"M = {cc['nz']}, width {cc['width']}, batch {cc['batch']}, λ = {cc['latent_weight']:g}, "
                  f"μ = {cc['pixel_weight']:g}, {_schedule(cc)}; {c['iterations']} iterations in {c['cpu_seconds'] / 60:.1f} CPU min "
                  f"({c['wall_seconds'] / 60:.1f} min wall). On the {m['heldout_images']} held-out faces, mean "
                  "|ab error| in Lab units (a, b span about ±100):", "",
                  "| colouring | ab L1 ↓ |", "|---|---|",
                  f"| grey (ab = 0) | {m['ab_l1_grey']:.2f} |",
                  f"| one of 8 codes (mean over codes) | {m['ab_l1_colouring_mean']:.2f} |",
                  f"| best of 8 codes | {m['ab_l1_colouring_best_of_8']:.2f} |",
                  f"| reconstruction g(e(ab \\| L) \\| L) (the true colours encoded) | "
                  f"{m['ab_l1_reconstruction']:.2f} |", "",
                  f"Diversity: mean pairwise ab L1 between the 8 colourings of one face {m['diversity_ab_l1']:.2f}. "
                  "Thesis reference: Fig. 4.4 (Stanford Cars, diverse colourings; colour transfer).", "",
                  res.get("verdict_colorize", ""), "",
                  "Colourings (each row: the face, its lightness, 8 codes spread over the sphere) and colour "
                  "transfer (each row: colour source, grey target, transfer, the target's true colours):", "",
                  f"![colourings]({name}_colorize.png) ![transfer]({name}_colour_transfer.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="data,age,dcgan,colorize,fid,report")
    ap.add_argument("--faces", type=int, default=1500)
    ap.add_argument("--age-iters", type=int, default=300)
    ap.add_argument("--dcgan-iters", type=int, default=450)
    ap.add_argument("--colorize-iters", type=int, default=100)
    ap.add_argument("--warmup-fraction", type=float, default=1 / 3,
                    help="share of the iterations spent on the autoencoder warm-up (AGE and colourisation)")
    ap.add_argument("--warmup-iters", type=int, default=None,
                    help="iterations of the autoencoder warm-up (overrides --warmup-fraction; scaled by AGE_SCALE)")
    ap.add_argument("--age-milestones", default="",
                    help="comma-separated iteration counts at which the AGE run writes age-it<N>.safetensors")
    ap.add_argument("--dcgan-milestones", default="",
                    help="comma-separated iteration counts at which the DCGAN run writes dcgan-it<N>.safetensors")
    ap.add_argument("--milestone-fid", default="",
                    help="comma-separated milestones that get FID/KID in --parts milestones (default: all)")
    ap.add_argument("--generator-pixel-weight", type=float, default=10.0, help="μ_G (the thesis: 0)")
    ap.add_argument("--ema", type=float, default=0.999, help="averaged generator for sampling (DCGAN's; 0: off)")
    ap.add_argument("--real-weight", type=float, default=4.0,
                    help="w, weight of the real codes' divergence in e's loss, unconditional run (the thesis: 1)")
    ap.add_argument("--latent-weight", type=float, default=250.0,
                    help="λ (the thesis: 500, 1000 or 2000; 250 measured best at this budget)")
    ap.add_argument("--colorize-latent-weight", type=float, default=0.0,
                    help="λ of the colourisation run (the authors' colourisation commands: 0)")
    ap.add_argument("--upsample", default="nearest",
                    help="the generator's up-sampling, unconditional run (the thesis' DCGAN: transposed)")
    ap.add_argument("--encoder-antialias", action="store_true",
                    help="low-pass the input of the encoder's strided convolutions (not the thesis')")
    ap.add_argument("--nz", type=int, default=64)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--colorize-width", type=int, default=16)
    ap.add_argument("--colorize-batch", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--fid-images", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--machine", default="2 shared CPU cores, 1 thread per process, nice 10")
    ap.add_argument("--trained-on", default="",
                    help="the report's header when the training ran elsewhere (default: --device)")
    ap.add_argument("--name", default="age", help="prefix of the files written into benchmarks/results/")
    ap.add_argument("--verdict-age", default="")
    ap.add_argument("--verdict-colorize", default="")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    res: dict = {}
    command = "python benchmarks/age.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    for p in parts:
        if p != "report":
            (WORK / f"command-{p}.txt").write_text(command)
    if "data" in parts:
        make_data(args)
    if "age" in parts:
        train_age_part(args, "unconditional")
    if "age-autoencoder" in parts:
        train_age_part(args, "unconditional", "age-autoencoder", autoencoder_only=True)
    if "dcgan" in parts:
        train_dcgan_part(args)
    if "colorize" in parts:
        train_age_part(args, "colorize")
    if "fid-real" in parts:  # the real sets' features only (they do not wait for training)
        train, held = datasets(args.seed, augment=False)
        step = max(1, len(train) // args.fid_images)
        _features("heldout", lambda: torch.stack([held[i] for i in range(len(held))]), args)
        _features("train", lambda: torch.stack([train[i] for i in range(0, len(train), step)][:args.fid_images]), args)
    if "fid-dcgan" in parts:  # the DCGAN samples' features only (they do not wait for the AGE run)
        from netprior.dcgan_model import load_generator
        from netprior.recipes.dcgan import generate

        _features("dcgan-samples", lambda: generate(load_generator(WORK / "dcgan.safetensors", args.device),
                                                    args.fid_images, seed=args.seed + 1), args)
    if "fid" in parts:
        fid_part(args)
    if "milestones" in parts:
        milestones_part(args)
    if "report" in parts:
        res["commands"] = {p.stem.removeprefix("command-"): p.read_text() for p in sorted(WORK.glob("command-*.txt"))}
        for name in ("age", "dcgan", "colorize", "fid", "milestones"):
            if (WORK / f"{name}.json").exists():
                res[name] = json.loads((WORK / f"{name}.json").read_text())
        if "age" in res and "dcgan" in res:
            figures(args)
        if "colorize" in res:
            res["colorize"]["metrics"] = colorize_eval(args)
        res.update(faces=args.faces, machine=args.machine, scale=SCALE, device=args.trained_on or args.device.upper(),
                   verdict_age=args.verdict_age or res.get("verdict_age", ""),
                   verdict_colorize=args.verdict_colorize or res.get("verdict_colorize", ""),
                   load_average=[round(x, 1) for x in os.getloadavg()])
        from netprior.report import versions

        res["versions"] = versions()
        (RESULTS / f"{args.name}.json").write_text(json.dumps(res, indent=2))
        (RESULTS / f"{args.name}.md").write_text(markdown(res, args.name))
        print(f"wrote {RESULTS / args.name}.json/.md")


if __name__ == "__main__":
    main()
