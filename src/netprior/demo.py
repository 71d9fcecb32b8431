"""The bundled demo: blind denoising of a 96×96 photo (NASA astronaut portrait from ``skimage.data``,
public domain) with σ = 25 Gaussian noise added under a fixed seed, by the default ``denoise-sure`` preset (SURE
loss and stopping at the *estimated* noise level) — the clean image is used only to report PSNR/SSIM."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Iterator

import torch

DEMO_SIGMA255 = 25.0


def demo_image() -> torch.Tensor:
    """The bundled 96×96 RGB demo photo as a (1, 3, 96, 96) tensor in [0, 1]."""
    from .io import load_image

    with resources.as_file(resources.files("netprior") / "data" / "demo.png") as p:
        return load_image(p)


def run_demo(output_dir: str | Path, *, iters: int | None = None, progress: bool = True, seed: int = 0,
             device: str = "cpu") -> Iterator[str]:
    """Write noisy.png, denoised.png (+ .json sidecar, .report.png) and comparison.png (the three images drawn
    large with their PSNR) into ``output_dir``; yield one line per file written, then where to look first."""
    from .io import save_image
    from .metrics import psnr, ssim
    from .operators import GaussianNoise
    from .recipes.dip import denoise
    from .report import write_panels, write_report, write_sidecar

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = demo_image()
    noisy = GaussianNoise(DEMO_SIGMA255).simulate(clean, torch.Generator().manual_seed(seed))
    save_image(noisy, out / "noisy.png")
    yield f"wrote {out / 'noisy.png'}  (σ = {DEMO_SIGMA255:g}, PSNR {psnr(noisy, clean):.2f} dB)"
    r = denoise(noisy, reference=clean, iters=iters, seed=seed, device=device, progress=progress,
               snapshot_every=50)
    save_image(r.image, out / "denoised.png")
    metrics = {**r.metrics, "psnr_noisy": psnr(noisy, clean), "ssim_noisy": ssim(noisy, clean)}
    write_sidecar(out / "denoised.png", config=r.config, result=r.result, metrics=metrics,
                  extra={"demo": {"image": "netprior/data/demo.png", "sigma255": DEMO_SIGMA255, "noise_seed": seed}})
    stop = r.result.stop
    how = (f"stopped by {stop['rule']} at step {stop['stopped_at']}" if stop.get("stopped_at") else
           f"{stop['rule']} did not fire within {r.result.steps} steps; its best step {stop['selected_step']}")
    write_report(out / "denoised.report.png", r.result, observation=noisy,
                 title=f"DIP denoising: {how}")
    write_panels(out / "comparison.png",
                 [("clean (reference)", clean), (f"noisy, σ = {DEMO_SIGMA255:g}: {psnr(noisy, clean):.2f} dB", noisy),
                  (f"restored: {r.metrics['psnr']:.2f} dB", r.image.cpu())],
                 title=f"Deep Image Prior denoising (preset {r.config['preset']['name']}, {r.result.steps} steps)")
    yield (f"wrote {out / 'denoised.png'}  (PSNR {r.metrics['psnr']:.2f} dB, SSIM {r.metrics['ssim']:.3f}; "
           f"{r.result.steps} steps in {r.result.seconds:.0f} s, {how}; "
           f"oracle peak {r.metrics.get('oracle_peak_psnr', float('nan')):.2f} dB at step "
           f"{r.metrics.get('oracle_peak_step')})")
    yield f"wrote {out / 'denoised.json'}  (config, seed, versions, timings, metrics)"
    yield f"wrote {out / 'denoised.report.png'}  (snapshots, loss and PSNR curves)"
    yield f"wrote {out / 'comparison.png'}  (clean | noisy | restored)"
    yield f"open {out / 'comparison.png'} first; {out / 'denoised.report.png'} shows how the result was reached"
