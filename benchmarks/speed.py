"""Time to quality of Deep Image Prior denoising (issue 17): PSNR against seconds for the reference recipe (preset
``denoise``, the authors' notebook), the new default and BM3D, on the same noisy images (σ = 25, the noise draw of
benchmarks/dip.py).

    python benchmarks/speed.py [--images dip/F16_GT.png ...] [--presets denoise denoise-sure] [--steps 1000 400]
                               [--threads 1 2] [--only curves timing bm3d]

On a shared machine wall-clock seconds mostly measure the other jobs, so the two halves of a curve are measured
apart: ``curves`` records the PSNR of each preset's output against its *step* (load-independent; the stopping rule
the preset uses by default watches the run, which is continued to the cap so the curve shows what happens after),
``timing`` times the preset's steps on the same image with each thread count and records the load average, and the
curve in seconds is steps × seconds per step.  Parts (and images) can come from several commands; each row keeps
the command, date, threads and load that produced it.  Writes results/speed.json, results/speed.md and the figure
results/speed_curves.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from dip import DATA, Observe, centre, merge_rows

from netprior.io import load_image
from netprior.metrics import psnr
from netprior.operators import GaussianNoise
from netprior import stopping
from netprior.recipes import dip

OUT = Path(__file__).resolve().parent / "results"
SIGMA255 = 25.0


def noisy_crop(name: str, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The clean centre crop and its noisy version, drawn exactly as in benchmarks/dip.py (seed 0)."""
    x = centre(load_image(DATA / name), crop)
    return x, GaussianNoise(SIGMA255).simulate(x, torch.Generator().manual_seed(0))


def provenance(cmd: str, threads: int, load_before: float) -> dict:
    return {"command": cmd, "date": time.strftime("%Y-%m-%d %H:%M"), "threads": threads,
            "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1)}


def curve(name: str, preset: str, cap: int, crop: int, cmd: str) -> dict:
    """PSNR of the returned image (the averaged output) every 10 steps up to ``cap``, and where the preset's own
    stopping rule (at the estimated σ, as ``restore denoise`` runs it) stops and what it returns there."""
    x, y = noisy_crop(name, crop)
    load = os.getloadavg()[0]
    sigma = dip.estimated_sigma(y, preset)
    rule = stopping.by_name(dip.get_preset(preset).stopping, sigma)
    r = dip.restore(y, GaussianNoise(SIGMA255), preset, iters=cap, sigma=sigma, reference=x, progress=False,
                    stopping=Observe(auto=rule), metrics_every=10)
    h = r.result.history
    step, image = rule.selected() or (r.result.steps, r.result.image)  # not fired: what solve returns at the cap
    return {"image": name, "preset": preset, "size": list(x.shape[-2:]), "cap": cap, "steps": h["psnr_step"],
            "psnr": [round(v, 3) for v in h["psnr_avg"]], "sigma_est255": round(sigma * 255, 2),
            "auto": {"rule": rule.name, "step": step, "psnr": psnr(image, x), "fired": rule.stopped_at is not None,
                     "stopped_at": rule.stopped_at},
            "peak": {"psnr": r.metrics["oracle_peak_psnr"], "step": r.metrics["oracle_peak_step"]},
            **provenance(cmd, torch.get_num_threads(), load)}


def seconds_per_step(name: str, preset: str, steps: int, threads: int, crop: int, cmd: str) -> dict:
    """Median wall-clock seconds of one step of the preset's run (network, loss, Adam, averaging, stopping rule)
    with ``threads`` torch threads, after one warm-up step."""
    _, y = noisy_crop(name, crop)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    stamps = []
    dip.restore(y, GaussianNoise(SIGMA255), preset, iters=steps + 1, sigma=dip.estimated_sigma(y, preset), progress=False,
                stopping="auto", callback=lambda step, _: stamps.append(time.perf_counter()))
    torch.set_num_threads(before)
    return {"image": name, "preset": preset, "threads": threads, "sec_per_step": float(np.median(np.diff(stamps))),
            **provenance(cmd, threads, load)}


def bm3d_point(name: str, crop: int, cmd: str) -> dict:
    """CBM3D (``bm3d`` package) on the same noisy crop with the true σ: PSNR and wall-clock seconds."""
    import bm3d

    x, y = noisy_crop(name, crop)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    b = bm3d.bm3d_rgb(y[0].permute(1, 2, 0).numpy(), SIGMA255 / 255)
    sec = time.perf_counter() - t0
    return {"image": name, "psnr": psnr(np.clip(b, 0, 1), x), "seconds": round(sec, 2),
            **provenance(cmd, torch.get_num_threads(), load)}


def dip_reference(image: str) -> dict | None:
    """The reference preset's run on the same crop and noise draw in benchmarks/results/dip.json (benchmarks/dip.py
    records peak, stopping steps and seconds per step, not the curve): used when this benchmark has no curve for
    it — at ~0.25 s per step a reference curve costs 1000 steps, too much for a loaded machine."""
    path = OUT / "dip.json"
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    row = next((r for r in d.get("denoise", []) if r["image"] == image), None)
    if row is None or not row["rules"].get("discrepancy"):
        return None
    m = d["meta"]["denoise"][-1]
    return {"image": image, "preset": "denoise", "peak": row["oracle"], "auto": row["rules"]["discrepancy"],
            "sec_per_step": row["sec_per_iter"], "threads": m["threads"],
            "source": f"benchmarks/dip.py ({m['date']}, {m['threads']} threads, load {m['load_before']:.1f} → "
                      f"{m['load_after']:.1f})"}


def step_seconds(res: dict, preset: str, image: str, threads: int, reference: str) -> tuple[float, str] | None:
    """Seconds per step of ``preset`` on ``image`` with ``threads`` threads, and how it was obtained: timed by this
    benchmark, or — when the machine was too loaded to time it — the ratio to the reference preset timed with one
    thread in the same command, times the reference's seconds per step from benchmarks/dip.py."""
    rows = {(r["preset"], r["threads"]): r for r in res.get("timing", [])}  # crops of one size: any image's
    if (preset, threads) in rows:
        r = rows[(preset, threads)]
        return r["sec_per_step"], f"timed, {threads} thread(s), load {r['load_before']}"
    ref = dip_reference(image)
    if preset == reference and ref and ref["threads"] == threads:
        return ref["sec_per_step"], ref["source"]
    if ref and ref["threads"] == threads and (preset, 1) in rows and (reference, 1) in rows:
        ratio = rows[(preset, 1)]["sec_per_step"] / rows[(reference, 1)]["sec_per_step"]
        return ratio * ref["sec_per_step"], (f"{ratio:.3f} × the reference's {ref['sec_per_step']} s (ratio timed "
                                             f"with 1 thread at load {rows[(preset, 1)]['load_before']})")
    return None


def run_steps(c: dict) -> int:
    """Steps a run with the preset's rule takes: to where the rule fired, else to the cap."""
    if c["auto"]["fired"]:
        return c["auto"].get("stopped_at") or c["auto"]["step"]
    return c["cap"]


def time_to(c: dict, target: float) -> int | None:
    """First recorded step whose PSNR reaches ``target``."""
    return next((s for s, p in zip(c["steps"], c["psnr"]) if p >= target), None)


def summary(res: dict, reference: str, threads: int) -> list[dict]:
    """Per image and preset: auto-stopped PSNR and seconds, peak, and the speed-up against the reference's time
    to its own peak (seconds for the preset to reach the reference's peak PSNR, else to its auto stop)."""
    rows = []
    curves = list(res.get("curves", []))
    for name in dict.fromkeys(c["image"] for c in curves):
        if not any(c["image"] == name and c["preset"] == reference for c in curves) and dip_reference(name):
            curves.insert(0, {**dip_reference(name), "steps": None})
    for c in curves:
        t = step_seconds(res, c["preset"], c["image"], threads, reference)
        sps = t[0] if t else None
        row = {"image": c["image"], "preset": c["preset"], "auto_psnr": c["auto"]["psnr"],
               "auto_step": c["auto"]["step"], "auto_fired": c["auto"]["fired"], "peak_psnr": c["peak"]["psnr"],
               "peak_step": c["peak"]["step"], "sec_per_step": sps, "sec_source": t[1] if t else None,
               "auto_seconds": None if sps is None else run_steps(c) * sps, "curve": c["steps"] is not None}
        ref = next((r for r in curves if r["image"] == c["image"] and r["preset"] == reference), None)
        rt = ref and step_seconds(res, reference, c["image"], threads, reference)
        if rt and sps is not None and c["steps"] is not None:
            ref_peak_s = ref["peak"]["step"] * rt[0]
            reach = time_to(c, ref["peak"]["psnr"])
            mine = (reach if reach is not None else run_steps(c)) * sps
            row.update(reference_peak_seconds=ref_peak_s,
                       seconds_to_reference_peak=None if reach is None else reach * sps, speedup=ref_peak_s / mine)
        rows.append(row)
    return rows


def fmt(v, nd=2):
    return "–" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def figure(res: dict, reference: str, threads: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = list(dict.fromkeys(c["image"] for c in res.get("curves", [])))
    if not images:
        return
    fig, axes = plt.subplots(1, len(images), figsize=(5.5 * len(images), 4.2), squeeze=False)
    for ax, name in zip(axes[0], images):
        for c in [c for c in res["curves"] if c["image"] == name]:
            t = step_seconds(res, c["preset"], name, threads, reference)
            if t is None:
                continue
            line, = ax.plot([s * t[0] for s in c["steps"]], c["psnr"], label=f"DIP {c['preset']} ({t[0]:.3f} s/step)")
            ax.plot(run_steps(c) * t[0], c["auto"]["psnr"], "o", color=line.get_color(),  # when the run ends
                    label=f"  auto-stopped ({c['auto']['rule']}): {c['auto']['psnr']:.2f} dB")
        ref = dip_reference(name)
        if ref and not any(c["image"] == name and c["preset"] == reference for c in res["curves"]):
            for what, mark in (("peak", "s"), ("auto", "D")):
                ax.plot(ref[what]["step"] * ref["sec_per_step"], ref[what]["psnr"], mark, color="tab:red",
                        label=f"reference {reference} {what} {ref[what]['psnr']:.2f} dB @{ref[what]['step']} "
                              "(dip.py)")
        b = next((b for b in res.get("bm3d", []) if b["image"] == name), None)
        if b:
            ax.axhline(b["psnr"], color="k", ls="--", lw=0.8)
            ax.plot(b["seconds"], b["psnr"], "k*", ms=10,
                    label=f"CBM3D {b['psnr']:.2f} dB ({b['seconds']} s at load {b['load_before']})")
        ax.set(title=f"{name}, {res['curves'][0]['size'][0]}², σ = 25", xlabel=f"seconds ({threads} thread(s))",
               ylabel="PSNR (dB)", xscale="log", ylim=(24, None))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(res: dict, reference: str, threads: int) -> str:
    L = ["## Time to quality: DIP denoising against BM3D (issue 17)", "",
         ("σ = 25, centre crops, the noise draw of benchmarks/dip.py. PSNR of the returned (averaged) output against "
         f"steps (load-independent) × seconds per step for {threads} torch thread(s) (*s / step* says how each was "
         "obtained; the machine has 2 CPU cores shared with other jobs). *auto*: step and PSNR of the image the preset's "
         "own stopping rule selects at the estimated σ (no clean image used; *(cap)*: the rule had not fired by the "
         "step cap) and, in brackets, the seconds of the whole run; *peak*: best PSNR over the run "
         "(oracle); *speed-up*: the reference's seconds to its peak over the preset's seconds to reach that PSNR "
         "(or to its auto stop when it never does). CBM3D seconds are wall-clock at the load listed (BM3D is not "
         "timed apart; issue 17 measured 2.0 s for the F16 crop on an idle machine). Figure: "
          "`results/speed_curves.png`."), ""]
    for part in ("curves", "timing", "bm3d"):
        runs = {}
        for r in res.get(part, []):  # one line per command: its first row's date and load, its last row's load
            runs.setdefault(r["command"], [r, r])[1] = r
        if runs:
            L += [f"{part}: " + "; ".join(f"`{cmd}` — {a['date']}, {a['threads']} thread(s), load {a['load_before']} → "
                                          f"{b['load_after']}" for cmd, (a, b) in runs.items()), ""]
    rows = summary(res, reference, threads)
    L += ["| image | preset | s / step | auto: dB @ step (s) | peak dB @ step | speed-up | CBM3D dB (s) |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        b = next((b for b in res.get("bm3d", []) if b["image"] == r["image"]), None)
        L.append(f"| {r['image']} | {r['preset']}{'' if r['curve'] else ' (dip.py run)'} | "
                 f"{fmt(r['sec_per_step'], 3)} ({r['sec_source'] or 'not timed'}) | {fmt(r['auto_psnr'])} "
                 f"@{r['auto_step']}{'' if r['auto_fired'] else ' (cap)'} ({fmt(r['auto_seconds'], 0)} s) | "
                 f"{fmt(r['peak_psnr'])} @{r['peak_step']} | {fmt(r.get('speedup'), 1)}{'×' if r.get('speedup') else ''}"
                 f" | {fmt(b['psnr']) if b else '–'} ({b['seconds'] if b else '–'} s) |")
    if res.get("timing"):
        L += ["", "| preset | image | threads | s / step (timed) | load |", "|---|---|---|---|---|"]
        L += [f"| {t['preset']} | {t['image']} | {t['threads']} | {t['sec_per_step']:.3f} | {t['load_before']} |"
              for t in res["timing"]]
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    images = [i for i in dict.fromkeys(r["image"] for r in rows) if all(
        any(r["image"] == i and r["preset"] == p for r in rows) for p in presets)]
    if len(images) > 1:
        L += ["", f"Mean auto-stopped PSNR over the {len(images)} images every preset ran on: " + ", ".join(
            f"{p} {np.mean([r['auto_psnr'] for r in rows if r['preset'] == p and r['image'] in images]):.2f} dB"
            for p in presets) + (f"; CBM3D {np.mean([b['psnr'] for b in res['bm3d'] if b['image'] in images]):.2f}"
                                 " dB" if all(any(b["image"] == i for b in res.get("bm3d", [])) for i in images)
                                 else "") + "."]
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", nargs="*", default=["dip/F16_GT.png"], help="clean images under shared/data")
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--presets", nargs="*", default=["denoise", "denoise-sure"])
    ap.add_argument("--steps", type=int, nargs="*", default=[1000, 600], help="step cap per preset")
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="thread counts timed")
    ap.add_argument("--time-steps", type=int, default=20)
    ap.add_argument("--curve-threads", type=int, default=1)
    ap.add_argument("--plot-threads", type=int, default=2, help="thread count whose timing turns steps into seconds")
    ap.add_argument("--reference", default="denoise")
    ap.add_argument("--only", nargs="*", default=["curves", "timing", "bm3d"])
    args = ap.parse_args()
    if len(args.steps) != len(args.presets):
        ap.error("--steps needs one cap per preset")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "speed.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    cmd = ("python benchmarks/speed.py " + " ".join(sys.argv[1:])).strip()
    torch.set_num_threads(args.curve_threads)

    def save(part: str, rows: list[dict]) -> None:  # re-read first: parts may run as concurrent commands
        res.update(json.loads(path.read_text()) if path.exists() else {})
        res[part] = merge_rows(res.get(part), rows, key=lambda r: (r["image"], r.get("preset"), r.get("threads")))
        path.write_text(json.dumps(res, indent=1))

    for name in args.images:
        if "bm3d" in args.only:
            save("bm3d", [bm3d_point(name, args.crop, cmd)])
        for preset, cap in zip(args.presets, args.steps):
            if "timing" in args.only:
                for th in args.threads:
                    save("timing", [seconds_per_step(name, preset, args.time_steps, th, args.crop, cmd)])
                    print("timing", json.dumps(res["timing"][-1]), flush=True)
            if "curves" in args.only:
                save("curves", [curve(name, preset, cap, args.crop, cmd)])
                c = res["curves"][-1]
                print("curve", name, preset, "auto", c["auto"], "peak", c["peak"], flush=True)
    (OUT / "speed.md").write_text(markdown(res, args.reference, args.plot_threads))
    figure(res, args.reference, args.plot_threads, OUT / "speed_curves.png")
    print((OUT / "speed.md").read_text())


if __name__ == "__main__":
    main()
