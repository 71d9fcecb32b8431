"""Perceptual-discriminator benchmark (thesis ch. 5): unpaired translation photo → stylised photo, where the true
translation of every test photo is known.

Task.  Photos: the 64² crops of the scikit-image photographs of the default collection (``netprior data
make-default --textures 0 --faces 0``), split by file hash into disjoint sets A (inputs), A_test (held out) and
B_src.  A style network (``netprior style`` StyleNet, instance norm, style ``CSet14/flowers.png``, content pool of
8 B_src crops, 64²; ``--style-descriptor``, ``--style-alpha``: its loss, e.g. vgg16-hed and α = 0.3 for a strong
stylisation) is trained once; domain B = the stylised B_src photos.  A translation A → B is then trained
*unpaired* (no A photo has its stylised version in B) with the same generator, data, budget and seed, with the
perceptual discriminator (frozen Lite0 trunk; ``lite0``: its taps divided by their std on real B images, the
default; ``lite0-raw``: the raw taps, as the thesis; ``lite0-noskip``: taps scaled, the generator without its input
skip) and with the plain multi-scale patch discriminator (``patch``: the same heads on a learned trunk); all
one-way (G_ab, D_b, identity loss eq. 5.7, generator pre-trained as an autoencoder), LSGAN.  On A_test the true stylisation s(a) is known:

* error to the truth: L1 (per pixel, [0, 1]) and PSNR of G(a) against s(a);
* FID / KID of {G(a)} against B (Inception-v3), with the floors: {s(a)} vs B (perfect translation) and {a} vs B
  (no translation);
* C2ST (Lopez-Paz & Oquab 2017): an L2-regularised logistic regression on Inception features telling real B
  images from translated A_test images; held-out accuracy (0.5 = indistinguishable) and log-loss (higher = better
  translation), mean over 10 random halvings.

    nice -n 10 python benchmarks/translate.py --parts data,style --style-descriptor vgg16-hed --style-alpha 0.3
    nice -n 10 python benchmarks/translate.py --parts train --disc lite0 &
    nice -n 10 python benchmarks/translate.py --parts train --disc lite0-raw &
    nice -n 10 python benchmarks/translate.py --parts train --disc patch &
    nice -n 10 python benchmarks/translate.py --parts train --disc lite0-noskip
    nice -n 10 python benchmarks/translate.py --parts eval,report

``TRANSLATE_SCALE`` (environment) multiplies the iteration counts (smoke tests).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = Path(os.environ.get("TRANSLATE_WORK", ROOT / "benchmarks" / "out" / "translate"))
DATA = Path(os.environ.get("NETPRIOR_DATA", "/work/shared/data"))
SCALE = float(os.environ.get("TRANSLATE_SCALE", "1"))
DISCS = ("lite0", "lite0-raw", "patch", "lite0-noskip")
LABELS = {"lite0": "perceptual (Lite0, taps scaled)", "lite0-raw": "perceptual (Lite0, raw taps as the thesis)",
          "patch": "plain patch", "lite0-noskip": "perceptual (Lite0, taps scaled; generator without input skip)"}


def iters(n: int) -> int:
    return max(2, round(n * SCALE))


def _fraction(path: Path) -> float:
    return int.from_bytes(hashlib.sha1(path.read_bytes()).digest()[:8], "big") / 2 ** 64


def make_data(args) -> None:
    from netprior.data import list_images, make_default_collection

    photos = WORK / "collection"
    if not (photos / "manifest.json").exists():
        make_default_collection(photos, size=64, seed=args.seed, counts={"photos": args.photos, "textures": 0,
                                                                         "faces": 0}, progress=False)
    for name in ("A", "A_test", "B_src"):
        shutil.rmtree(WORK / name, ignore_errors=True)
        (WORK / name).mkdir(parents=True)
    for p in list_images(photos):
        f = _fraction(p)
        name = "A" if f < 0.45 else "A_test" if f < 0.55 else "B_src"
        shutil.copy(p, WORK / name / p.name)
    print("data: " + ", ".join(f"{n} {len(list(WORK.joinpath(n).glob('*.png')))}" for n in ("A", "A_test", "B_src")),
          flush=True)


def _images(folder: Path) -> tuple[torch.Tensor, list[Path]]:
    from netprior.data import list_images
    from netprior.io import load_image

    paths = list_images(folder)
    return torch.cat([load_image(p) for p in paths]), paths


def style(args) -> None:
    """Train the style network and write B (stylised B_src) and A_test_true (stylised A_test)."""
    from netprior.io import load_image, save_image
    from netprior.recipes.style import apply_style, train_style_net
    from netprior.feedforward import ARCH_LR, TrainConfig
    from netprior.texture_descriptor import Descriptor
    from netprior.texture_model import save_model

    b_src, b_paths = _images(WORK / "B_src")
    pool = b_src[torch.randperm(len(b_src), generator=torch.Generator().manual_seed(args.seed))[:8]]
    cfg = TrainConfig(arch="style_net", net={"normalization": "instance"}, size=64, batch=4,
                      iters=iters(args.style_iters), lr=ARCH_LR["style_net"], alpha=args.style_alpha, seed=args.seed,
                      lr_decay_start=iters(args.style_iters) // 2, lr_decay_every=max(1, iters(args.style_iters) // 8))
    cpu0 = time.process_time()
    tr = train_style_net(load_image(DATA / "CSet14" / "flowers.png"), pool, cfg,
                         descriptor=Descriptor(args.style_descriptor),
                         progress=args.progress)
    save_model(tr.model, WORK / "style.pt")
    for src, dst in (("B_src", "B"), ("A_test", "A_test_true")):
        shutil.rmtree(WORK / dst, ignore_errors=True)
        x, paths = (b_src, b_paths) if src == "B_src" else _images(WORK / src)
        for img, p in zip(x, paths):
            save_image(apply_style(tr.model, img[None], seed=0), WORK / dst / p.name)
    (WORK / "style.json").write_text(json.dumps({"iters": cfg.iters, "cpu_seconds": time.process_time() - cpu0,
                                                 "descriptor": args.style_descriptor, "alpha": cfg.alpha,
                                                 "final_loss": tr.result.history["loss"][-1]}))
    print(f"style: trained in {time.process_time() - cpu0:.0f} CPU s", flush=True)


def train_part(args, disc: str) -> None:
    from netprior.data import ImageFolder
    from netprior.data.unpaired import Unpaired
    from netprior.recipes.translate import TranslateConfig, save_model, train_translation

    data = Unpaired(ImageFolder(WORK / "A", 64, split="all", seed=args.seed),
                    ImageFolder(WORK / "B", 64, split="all", seed=args.seed + 1), seed=args.seed)
    cfg = TranslateConfig(**_variant(disc), cycle=False, pretrain_iters=iters(args.pretrain_iters),
                          iters=iters(args.iters), batch=args.batch, seed=args.seed)
    cpu0 = time.process_time()
    run = train_translation(data, cfg, device=args.device, progress=args.progress, log=WORK / f"{disc}.log.jsonl",
                            checkpoint=WORK / f"{disc}.checkpoint.safetensors", sample_every=max(1, cfg.iters // 4))
    save_model(run.generators, cfg, WORK / f"{disc}.safetensors", training=run.config)
    r = run.result
    (WORK / f"{disc}.json").write_text(json.dumps({
        "config": run.config, "iterations": r.iterations, "wall_seconds": r.seconds + run.pretrain.seconds,
        "cpu_seconds": time.process_time() - cpu0, "final": {k: v[-1] for k, v in r.history.items()}}, indent=2))
    print(f"train {disc}: {time.process_time() - cpu0:.0f} CPU s", flush=True)


def c2st(real: torch.Tensor, fake: torch.Tensor, *, splits: int = 10, weight_decay: float = 1e-2,
         seed: int = 0) -> dict:
    """Classifier two-sample test: logistic regression (L-BFGS, L2 penalty ``weight_decay``, standardised features)
    trained on a random half of each set, scored on the other half; mean held-out accuracy and log-loss."""
    n = min(len(real), len(fake))
    g = torch.Generator().manual_seed(seed)
    accs, losses = [], []
    for _ in range(splits):
        r, f = real[torch.randperm(len(real), generator=g)[:n]], fake[torch.randperm(len(fake), generator=g)[:n]]
        x = torch.cat([r, f]).double()
        y = torch.cat([torch.ones(n), torch.zeros(n)]).double()
        perm = torch.randperm(2 * n, generator=g)
        tr, te = perm[:n], perm[n:]
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
        xs = (x - mu) / sd
        w = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            logits = xs[tr] @ w[:-1] + w[-1]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[tr]) + \
                weight_decay * (w[:-1] ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            logits = xs[te] @ w[:-1] + w[-1]
            accs.append(float(((logits > 0).double() == y[te]).double().mean()))
            losses.append(float(torch.nn.functional.binary_cross_entropy_with_logits(logits, y[te])))
    return {"accuracy": sum(accs) / splits, "log_loss": sum(losses) / splits, "per_class": n}


def _variant(disc: str) -> dict:
    """TranslateConfig fields of a benchmark variant (``lite0-raw``: Lite0 without the tap scale; ``lite0-noskip``:
    the generator without its input skip)."""
    return {"disc": disc.removesuffix("-raw").removesuffix("-noskip"), "tap_scale": not disc.endswith("-raw"),
            "g_input_skip": not disc.endswith("-noskip")}


def _adversarial_gradient(d, x: torch.Tensor, gan_loss: str) -> float:
    from netprior.recipes.translate import adversarial_losses

    x = x.clone().requires_grad_(True)
    adversarial_losses(gan_loss, None, d(x)).backward()
    return float(x.grad.norm())


def discriminator_gradients(a: torch.Tensor, b: torch.Tensor, *, steps: int, seed: int) -> dict:
    """Norm of the generator's adversarial gradient at its output, ‖∂ adv_G(D(x)) / ∂x‖ over 16 A photos x,
    for each discriminator as built for training (calibrated on B), at initialisation and after ``steps`` D steps
    (Adam 2e-4, batch 8) on real B against the untranslated A photos; beside it the identity loss' gradient
    λ_id ∂ mean|y − b| / ∂y, of norm λ_id / √n for 16 images."""
    from netprior.recipes.translate import TranslateConfig, adversarial_losses, build_networks

    out = {}
    for disc in (d for d in DISCS if not d.endswith("-noskip")):  # the same discriminator as lite0
        cfg = TranslateConfig(**_variant(disc), cycle=False, seed=seed)
        torch.manual_seed(seed)
        d = build_networks(cfg)[1]["b"]
        if cfg.tap_scale:
            d.calibrate(b[:64])
        opt = torch.optim.Adam(d.parameters(), cfg.lr, betas=cfg.betas)
        g = torch.Generator().manual_seed(seed)

        row = {"init": _adversarial_gradient(d, a[:16], cfg.gan_loss)}
        for _ in range(steps):
            i, j = torch.randint(0, len(b), (8,), generator=g), torch.randint(0, len(a), (8,), generator=g)
            opt.zero_grad()
            adversarial_losses(cfg.gan_loss, d(b[i]), d(a[j])).backward()
            opt.step()
        row[f"after {steps} D steps"] = _adversarial_gradient(d, a[:16], cfg.gan_loss)
        out[disc] = row
    out["identity loss"] = TranslateConfig().identity_weight / a[:16].numel() ** 0.5
    return out


def evaluate(args) -> dict:
    from safetensors.torch import load_file, save_file

    from netprior.evaluation import InceptionFeatures, extract, fid_kid
    from netprior.io import save_image
    from netprior.metrics import psnr
    from netprior.recipes.translate import load_model, translate
    from netprior.report import image_grid

    a, _ = _images(WORK / "A_test")
    truth, _ = _images(WORK / "A_test_true")
    b, _ = _images(WORK / "B")
    b = b[::max(1, len(b) // args.fid_b)][:args.fid_b]
    outs = {} if args.real_only else {d: translate(load_model(WORK / f"{d}.safetensors")[0]["ab"], a)
                                      for d in DISCS if (WORK / f"{d}.safetensors").exists()}
    extractor = None

    def feats(name: str, images: torch.Tensor) -> torch.Tensor:
        nonlocal extractor
        path = WORK / f"feat-{name}.safetensors"
        if name in ("B", "A_test", "truth") and path.exists():
            return load_file(str(path))["features"]
        extractor = extractor or InceptionFeatures(args.device)
        f = extract([images], extractor, device=args.device)
        save_file({"features": f}, str(path))
        return f

    fb = feats("B", b)
    if args.real_only:  # the features of the real sets only (they do not wait for training)
        feats("A_test", a), feats("truth", truth)
        return {}
    rows = []
    for name, key, images in (("no translation: the input a", "A_test", a),
                              ("true stylisation s(a): the floor", "truth", truth),
                              *((f"G(a), {LABELS[d]} discriminator", d, o) for d, o in outs.items())):
        f = feats(key, images)
        r = fid_kid(fb, f, kid_subset_size=min(50, len(f)))
        rows.append({"what": name, "disc": key, "l1": float((images - truth).abs().mean()),
                     "psnr": float(sum(psnr(x[None], t[None]) for x, t in zip(images, truth)) / len(truth)),
                     "fid": r["fid"], "kid": r["kid"], "kid_std": r["kid_std"],
                     "c2st": c2st(fb, f, seed=args.seed)})
    show = list(range(0, len(a), max(1, len(a) // 8)))[:8]
    save_image(image_grid(torch.cat([torch.stack([a[i], *(outs[d][i] for d in outs), truth[i]]) for i in show]),
                          nrow=2 + len(outs)), RESULTS / "translate_test.png")
    save_image(image_grid(b[:32], nrow=8), RESULTS / "translate_domain_b.png")
    res = {"rows": rows, "test_images": len(a), "b_images": len(list(WORK.joinpath("B").glob("*.png"))),
           "b_fid_images": len(b), "gradients": discriminator_gradients(a, b, steps=args.probe_steps, seed=args.seed)}
    (WORK / "eval.json").write_text(json.dumps(res, indent=2))
    return res


def markdown(res: dict) -> str:
    e, s = res["eval"], res.get("style", {})
    runs = {d: res[d] for d in DISCS if d in res}
    c = next(iter(runs.values()))["config"] if runs else {}
    lines = ["## Perceptual discriminator: unpaired photo → stylised-photo translation (thesis ch. 5, 64², CPU)", "",
             "Command: " + " ; ".join(f"`{x}`" for x in dict.fromkeys(res["commands"].values())), "",
             f"Machine: {res['machine']}. Photos: crops of the scikit-image photographs (default collection), split "
             f"by file hash into A / A_test / B_src; B = B_src stylised by a StyleNet (instance norm, style "
             f"CSet14/flowers.png, descriptor {s.get('descriptor', 'lite0')}, content weight α = {s.get('alpha', 1.0)}, "
             f"{s.get('iters')} steps, pool of 8 B_src crops). {e['b_images']} B images, "
             f"{e['test_images']} test photos; A and B never share a photo crop. FID and C2ST use {e['b_fid_images']} B "
             "images spread over the set.", "",
             f"Translation: one-way G_ab + D_b, generator {c.get('g_width')} channels / {c.get('g_blocks')} residual "
             f"blocks, pre-trained {c.get('pretrain_iters')} steps as an autoencoder, then {c.get('iters')} "
             f"iterations (one G step + one D step), batch {c.get('batch')}, LSGAN, identity weight "
             f"{c.get('identity_weight')}, multi-scale outputs; the same seed and data order for both "
             "discriminators. " + "; ".join(f"{d}: {r['cpu_seconds'] / 60:.1f} CPU min ({r['wall_seconds'] / 60:.1f} "
                                            "min wall)" for d, r in runs.items()) + ".", "",
             "| output on A_test | L1 to s(a) ↓ | PSNR to s(a) ↑ | FID to B ↓ | KID to B ↓ | C2ST accuracy (→ 0.5) | "
             "C2ST log-loss ↑ |", "|---|---|---|---|---|---|---|"]
    for r in e["rows"]:
        lines.append(f"| {r['what']} | {r['l1']:.4f} | {r['psnr']:.2f} | {r['fid']:.1f} | {r['kid']:.4f} ± "
                     f"{r['kid_std']:.4f} | {r['c2st']['accuracy']:.3f} | {r['c2st']['log_loss']:.3f} |")
    grads = e.get("gradients")
    if grads:
        cols = list(next(iter(v for v in grads.values() if isinstance(v, dict))))
        lines += ["", "The generator's adversarial gradient at its output (norm over 16 A photos; see "
                  "`discriminator_gradients`), beside the identity loss' "
                  f"{grads['identity loss']:.4f}:", "", "| discriminator | " + " | ".join(cols) + " |",
                  "|---" * (len(cols) + 1) + "|"]
        lines += [f"| {LABELS[d]} | " + " | ".join(f"{v:.4f}" for v in r.values()) + " |"
                  for d, r in grads.items() if isinstance(r, dict)]
    lines += ["", "C2ST: logistic regression on Inception pool features (standardised, L2 1e-2), trained on half of "
              f"each set ({e['rows'][0]['c2st']['per_class']} images per class in all), scored on the other half, "
              "10 random halvings. FID from ~60 test images is strongly biased upward; compare rows. Thesis "
              "reference: Table 5.1 (C2ST on CelebA attributes), Fig. 5.5 (photo ↔ Monet: \"inconclusive\" for "
              "style transfer).", "", res.get("verdict", ""), "",
              "Each row: input a, then G(a) with each discriminator (" + ", ".join(LABELS[d] for d in runs) +
              "), then the true stylisation s(a); then a sample of domain B:", "",
              "![test](translate_test.png) ![domain B](translate_domain_b.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="data,style,train,eval,report")
    ap.add_argument("--disc", default=",".join(DISCS), help="discriminators for the train part")
    ap.add_argument("--photos", type=int, default=600)
    ap.add_argument("--style-iters", type=int, default=200)
    ap.add_argument("--style-descriptor", default="lite0", help="descriptor of the style network's losses")
    ap.add_argument("--style-alpha", type=float, default=1.0, help="content weight α of the style network")
    ap.add_argument("--pretrain-iters", type=int, default=40)
    ap.add_argument("--iters", type=int, default=80)
    ap.add_argument("--fid-b", type=int, default=128, help="B images (spread over the set) for FID and C2ST")
    ap.add_argument("--probe-steps", type=int, default=40, help="D steps before the second gradient probe")
    ap.add_argument("--real-only", action="store_true", help="eval part: only the real sets' features")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--machine", default="2 shared CPU cores, 1 thread per process, nice 10")
    ap.add_argument("--verdict", default="")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    command = "python benchmarks/translate.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    for p in parts:
        if p != "report":
            (WORK / f"command-{p}{'-' + args.disc if p == 'train' else ''}.txt").write_text(command)
    if "data" in parts:
        make_data(args)
    if "style" in parts:
        style(args)
    if "train" in parts:
        for d in args.disc.split(","):
            train_part(args, d)
    if "eval" in parts:
        evaluate(args)
    if "report" in parts:
        res = {"commands": {p.stem: p.read_text() for p in sorted(WORK.glob("command-*.txt"))},
               "machine": args.machine, "scale": SCALE, "eval": json.loads((WORK / "eval.json").read_text())}
        for name in ("style", *DISCS):
            if (WORK / f"{name}.json").exists():
                res[name] = json.loads((WORK / f"{name}.json").read_text())
        old = RESULTS / "translate.json"
        res["verdict"] = args.verdict or (json.loads(old.read_text()).get("verdict", "") if old.exists() else "")
        from netprior.report import versions

        res["versions"] = versions()
        (RESULTS / "translate.json").write_text(json.dumps(res, indent=2))
        (RESULTS / "translate.md").write_text(markdown(res))
        print(f"wrote {RESULTS / 'translate.json'}, {RESULTS / 'translate.md'}")


if __name__ == "__main__":
    main()
