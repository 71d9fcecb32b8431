"""The Texture / style and GAN tabs of ``netprior serve`` (:mod:`.app` builds the page and the Restore tab)."""

from __future__ import annotations

import functools

import gradio as gr

from ..errors import NetpriorError
from .workspace import COMPUTE, Workspace, painted_mask, preview, write_outputs

GAN_GENERATOR = "dcgan-faces"  # the generator whose weights ship with a package (offline)


def texture_tab(ws: Workspace) -> None:
    """Sample a trained texture model; apply a trained style network."""
    from ..io import check_size, load_image, save_image
    from ..recipes.dip import crop_to_multiple
    from ..recipes.style import apply_style
    from ..recipes.texture import load_model, sample
    from ..report import write_sidecar

    settings = ws.settings
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Sample a texture\nA model file written by `netprior texture train -o "
                        "tex.safetensors`; any size its scales reach.")
            tex_model = gr.File(label="Texture model (.safetensors)", file_types=[".safetensors"],
                                elem_id="texture-model")
            with gr.Row():
                size = gr.Number(value=256, precision=0, minimum=16, label="Size (px)", elem_id="texture-size")
                count = gr.Slider(1, 8, value=4, step=1, label="Samples")
            with gr.Row():
                tex_noise = gr.Number(value=1.0, minimum=0, label="Noise scale")
                tex_seed = gr.Number(value=0, precision=0, label="Seed")
            tex_run = gr.Button("Sample", variant="primary", elem_id="texture-run")
            tex_out = gr.Gallery(label="Samples", columns=4, height=300, elem_id="texture-gallery")
            tex_files = gr.File(label="PNG files and JSON sidecar", file_count="multiple", interactive=False)
        with gr.Column():
            gr.Markdown("### Apply a style network\nA model file written by `netprior style train -o "
                        "style.safetensors`; one forward pass.")
            style_model = gr.File(label="Style model (.safetensors)", file_types=[".safetensors"],
                                  elem_id="style-model")
            content = gr.Image(label="Content image", type="filepath", sources=["upload"], height=240,
                               elem_id="style-content")
            with gr.Row():
                style_noise = gr.Number(value=1.0, minimum=0, label="Noise scale k (style vs content)")
                style_seed = gr.Number(value=0, precision=0, label="Seed")
            style_run = gr.Button("Apply style", variant="primary", elem_id="style-run")
            style_out = gr.Image(label="Stylised", interactive=False, height=300, elem_id="style-output")
            style_files = gr.File(label="PNG and JSON sidecar", file_count="multiple", interactive=False)

    def texture(model_path, side, n, noise, seed):
        try:
            if not model_path:
                raise NetpriorError("upload a texture model (.safetensors) first")
            side = int(side) if side else None
            if side is not None:
                check_size(side, side, settings.max_side, what=f"size {side}")
            m = load_model(model_path, kind="texture", device=settings.device)
            x = sample(m, int(n), side, seed=int(seed or 0), noise_scale=float(noise), device=settings.device)
        except NetpriorError as exc:
            raise gr.Error(str(exc))
        run_dir = ws.run_dir()
        paths = [str(save_image(xi, run_dir / f"texture-{i}.png")) for i, xi in enumerate(x)]
        side_path = write_sidecar(run_dir / "texture-0.png", config={
            "model": m.describe(), "n": int(n), "size": list(x.shape[-2:]), "seed": int(seed or 0),
            "noise_scale": float(noise), "files": paths}, inputs={"model": model_path},
            extra={"interface": "netprior serve"})
        return [preview(xi[None]) for xi in x], paths + [str(side_path)]

    def style(model_path, image_path, noise, seed):
        try:
            if not model_path:
                raise NetpriorError("upload a style model (.safetensors) first")
            path = ws.check_upload(image_path, "content image")
            m = load_model(model_path, kind="style", device=settings.device)
            y = crop_to_multiple(load_image(path), m.net.multiple)
            x = apply_style(m, y, noise_scale=float(noise), seed=int(seed or 0), device=settings.device)
        except NetpriorError as exc:
            raise gr.Error(str(exc))
        paths = write_outputs(ws.run_dir(), "styled", x,
                              config={"model": m.describe(), "noise_scale": float(noise), "seed": int(seed or 0),
                                      "size": list(x.shape[-2:])}, inputs={"model": model_path, "image": path})
        return preview(x), paths

    tex_run.click(texture, [tex_model, size, count, tex_noise, tex_seed], [tex_out, tex_files], **COMPUTE)
    style_run.click(style, [style_model, content, style_noise, style_seed], [style_out, style_files], **COMPUTE)


@functools.lru_cache(maxsize=2)
def _generator(device: str):
    from ..generators import get_generator

    return get_generator(GAN_GENERATOR, device=device)


def gan_tab(ws: Workspace, run_job, cancel) -> None:
    """Invert, inpaint and interpolate faces with the offline DCGAN generator."""
    from ..io import image_size, load_image, save_gif, save_image
    from ..recipes.gan import (INTERPOLATION_ROWS, fit_image, inpaint, interpolation_config, interpolation_figures,
                               invert, make_config)
    from ..report import write_sidecar

    settings = ws.settings
    gr.Markdown(f"Generator: **{GAN_GENERATOR}** (64×64 faces; its weights ship with `gan-face-generate`). "
                "Images are centre-cropped and resized to 64×64.")
    with gr.Row():
        method = gr.Radio(["latent", "two-step", "mgan"], value="two-step", label="Method (invert / inpaint)")
        steps = gr.Number(value=200, precision=0, minimum=1, label="Steps per phase", elem_id="gan-steps")
        seed = gr.Number(value=0, precision=0, label="Seed")
    with gr.Tab("Invert"):
        with gr.Row():
            inv_in = gr.Image(label="Face", type="filepath", sources=["upload"], height=256, elem_id="gan-face")
            inv_out = gr.Image(label="Reconstruction (live)", interactive=False, height=256, elem_id="gan-inv-out")
        inv_run = gr.Button("Invert", variant="primary", elem_id="gan-invert-run")
    with gr.Tab("Inpaint"):
        with gr.Row():
            inp_in = gr.ImageEditor(label="Face — paint the missing region", type="filepath", format="png",
                                    sources=["upload"], transforms=(), layers=False, height=320,
                                    brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=6),
                                    eraser=gr.Eraser(default_size=6), elem_id="gan-editor")
            inp_out = gr.Image(label="Inpainted (live)", interactive=False, height=256, elem_id="gan-inp-out")
        inp_run = gr.Button("Inpaint", variant="primary", elem_id="gan-inpaint-run")
    with gr.Tab("Interpolate"):
        with gr.Row():
            face_a = gr.Image(label="Face A", type="filepath", sources=["upload"], height=200)
            face_b = gr.Image(label="Face B", type="filepath", sources=["upload"], height=200)
            frames = gr.Slider(3, 16, value=8, step=1, label="Frames")
        interp_run = gr.Button("Interpolate (two-step inversions)", variant="primary", elem_id="gan-interp-run")
        with gr.Row():
            strip = gr.Image(label="Rows: " + "; ".join(INTERPOLATION_ROWS), interactive=False,
                             elem_id="gan-strip")
            gif = gr.Image(label="A→B: latent | dense-layer path", type="filepath", interactive=False,
                           elem_id="gan-gif")
    with gr.Row():
        stop = gr.Button("Cancel", variant="stop", elem_id="gan-cancel")
        status = gr.Markdown("Upload a face and press a button.", elem_id="gan-status")
    files = gr.File(label="Results and JSON sidecar", file_count="multiple", interactive=False,
                    elem_id="gan-files")

    def fitted(path, what):
        g = _generator(settings.device)
        x, note = fit_image(load_image(ws.check_upload(path, what)), tuple(g.image_size))
        return g, x, note

    def config(method_name, n):
        n = int(n) if n else None
        return make_config(method_name, iters=n, offset_iters=n if method_name == "two-step" else None)

    def totals(cfg):
        return lambda phase: cfg.offset_iters if phase.endswith("offset") else cfg.iters

    def summary(inv) -> str:
        m = "".join(f", {k} {inv.metrics[k]:.3f}" for k in ("loss", "psnr", "ssim") if k in inv.metrics)
        steps_run = sum(r.steps for r in inv.results.values())
        secs = sum(r.seconds for r in inv.results.values())
        return f"**Done**: {inv.method}, {steps_run} steps, {secs:.1f} s{m}."

    def write_inversion(inv, name, inputs, note):
        return write_outputs(ws.run_dir(), name, inv.image, config=inv.config,
                             inputs=inputs, result=inv.result, metrics=inv.metrics,
                             extra={"phases": {k: r.summary() for k, r in inv.results.items()}, "fit_notice": note})

    def run_invert(path, method_name, n, seed_value, request: gr.Request, progress=gr.Progress()):
        try:
            g, x, note = fitted(path, "face")
            cfg = config(method_name, n)
        except NetpriorError as exc:
            raise gr.Error(str(exc))

        def work(job):
            inv = invert(x, g, cfg, reference=x, seed=int(seed_value or 0), progress=False,
                         callback=job.phase_callback)
            return inv, write_inversion(inv, f"gan-{method_name}", {"image": path}, note)

        def done(value):
            inv, paths = value
            return {status: summary(inv), inv_out: preview(inv.image), files: paths}

        yield {status: "Starting …", files: None}
        yield from run_job(request, work, totals(cfg), progress, done, status, inv_out)

    def run_inpaint(editor_value, method_name, n, seed_value, request: gr.Request, progress=gr.Progress()):
        editor_value = editor_value or {}
        try:
            path = editor_value.get("background")
            g, x, note = fitted(path, "face")
            raw = painted_mask(editor_value.get("layers"), image_size(path))
            m = (fit_image(raw, tuple(g.image_size))[0] >= 0.5).float()
            if m.min() == 1:
                raise NetpriorError("paint the region to fill on the face with the brush first")
            cfg = config(method_name, n)
        except NetpriorError as exc:
            raise gr.Error(str(exc))

        def work(job):
            inv = inpaint(x, m, g, cfg, seed=int(seed_value or 0), progress=False, callback=job.phase_callback)
            inv.config["missing_share"] = float(1 - m.mean())
            return inv, write_inversion(inv, "gan-inpaint", {"image": path}, note)

        def done(value):
            inv, paths = value
            return {status: summary(inv) + f" {100 * float(1 - m.mean()):.0f}% of the pixels were painted out.",
                    inp_out: preview(inv.image), files: paths}

        yield {status: "Starting …", files: None}
        yield from run_job(request, work, totals(cfg), progress, done, status, inp_out)

    def run_interpolate(path_a, path_b, n_frames, n, seed_value, request: gr.Request, progress=gr.Progress()):
        try:
            g, xa, note_a = fitted(path_a, "face A")
            _, xb, note_b = fitted(path_b, "face B")
            cfg = config("two-step", n)
        except NetpriorError as exc:
            raise gr.Error(str(exc))

        def work(job):
            kw = {"seed": int(seed_value or 0), "progress": False}
            a = invert(xa, g, cfg, reference=xa, callback=lambda p, s, x: job.phase_callback(f"A {p}", s, x), **kw)
            b = invert(xb, g, cfg, reference=xb, callback=lambda p, s, x: job.phase_callback(f"B {p}", s, x), **kw)
            image, gif_frames = interpolation_figures(g, a, b, xa, xb, int(n_frames))
            run_dir = ws.run_dir()
            out = save_image(image, run_dir / "interpolation.png")
            gif_path = save_gif(gif_frames, run_dir / "interpolation.gif")
            side = write_sidecar(out, config=interpolation_config(a, int(n_frames)), inputs={"a": path_a, "b": path_b},
                                 metrics={"a": a.metrics, "b": b.metrics},
                                 extra={"fit_notice": [note_a, note_b], "interface": "netprior serve"})
            return image, str(gif_path), [str(out), str(gif_path), str(side)], a, b

        def done(value):
            image, gif_path, paths, a, b = value
            return {status: f"**Done**: A reconstructed with loss {a.metrics['loss']:.3f}, B with "
                            f"{b.metrics['loss']:.3f}.", strip: preview(image), gif: gif_path, files: paths}

        yield {status: "Starting …", files: None}
        yield from run_job(request, work, totals(cfg), progress, done, status, strip)

    inv_run.click(run_invert, [inv_in, method, steps, seed], [status, inv_out, files], **COMPUTE)
    inp_run.click(run_inpaint, [inp_in, method, steps, seed], [status, inp_out, files], **COMPUTE)
    interp_run.click(run_interpolate, [face_a, face_b, frames, steps, seed], [status, strip, gif, files],
                     **COMPUTE)
    stop.click(cancel, None, status, queue=False)
