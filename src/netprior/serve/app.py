"""The Gradio page of ``netprior serve``: three tabs that call the same library functions as the CLI.

* **Restore** — Deep Image Prior (:mod:`netprior.recipes.dip`): upload, pick the task, paint the missing region
  (inpainting) with the editor's brush/eraser, preset and step cap; a run streams its progress and the current
  estimate every N steps (the solver's callback), then shows the stopping rule's decision, a before/after slider
  and the PNG + JSON sidecar to download.  Cancel stops the optimisation at the next step.
* **Texture / style** — sample a trained texture model at any size; apply a trained style network
  (:mod:`netprior.recipes.texture`, :mod:`netprior.recipes.style`).
* **GAN** — invert a face, inpaint it, interpolate between two faces (strip + GIF) with the offline DCGAN
  (:mod:`netprior.recipes.gan`).

Every run goes through one queue slot (``concurrency_id="compute"``, limit 1): one job at a time per server, the
others wait with their position shown.  Import this module only after
:func:`netprior.serve.offline.offline_environment` (gradio reads the environment when it is imported).
"""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import gradio as gr

from ..errors import NetpriorError
from .jobs import Job
from .workspace import Workspace, painted_mask, preview, upscale_nearest, write_outputs

TASKS = ("inpaint", "denoise", "jpeg", "super-resolve", "flash-no-flash")
TASK_DEFAULT = "task default"
GAN_GENERATOR = "dcgan-faces"  # the generator whose weights ship with a package (offline)
COMPUTE = {"concurrency_id": "compute", "concurrency_limit": 1}


def _stop_text(stop: dict | None) -> str:
    """The stopping rule's decision in words."""
    if not stop:
        return "Stopping rule: none (the full step budget was run)."
    text = f"Stopping rule **{stop['rule']}**: "
    if stop.get("stopped_at"):
        text += f"stopped at step {stop['stopped_at']}, returned step {stop['selected_step']}."
    elif stop.get("selected_step"):
        text += f"did not fire within the budget; returned its best step so far, {stop['selected_step']}."
    else:
        text += "did not fire within the budget and selected no step; returned the averaged output."
    return text


def _progress_text(step: int, total: int | None, phase: str = "") -> str:
    where = f" ({phase})" if phase else ""
    return f"Running{where}: step {step}" + (f" of at most {total}" if total else "") + " …"


def build_app(ws: Workspace):
    """The Gradio Blocks of the web app, bound to a workspace (temporary folder, settings, jobs)."""
    settings = ws.settings

    def run_job(request: gr.Request, work: Callable[[Job], object], total: Callable[[str], int | None],
                progress, outputs: Callable[..., dict], status, image) -> Iterator[dict]:
        """Start ``work`` as this session's job and turn its events into page updates: ``status`` text and the
        live estimate in ``image`` while it runs, then ``outputs(value)`` when it is done."""
        job = ws.start(request.session_hash, Job(work, settings.preview_every))
        try:
            for ev in job.events():
                if ev.kind == "progress":
                    n = total(ev.phase)
                    if n:
                        progress((ev.step, n), desc=ev.phase or "optimising")
                    yield {status: _progress_text(ev.step, n, ev.phase), image: preview(ev.image)}
                elif ev.kind == "cancelled":
                    yield {status: f"Cancelled at step {ev.step}; the optimisation has stopped."}
                elif ev.kind == "error":
                    if isinstance(ev.value, NetpriorError):
                        raise gr.Error(str(ev.value))
                    raise ev.value
                else:
                    yield outputs(ev.value)
        finally:
            ws.finish(request.session_hash, job)

    def cancel(request: gr.Request):
        return "Cancelling …" if ws.cancel(request.session_hash) else "Nothing is running."

    with gr.Blocks(title="netprior", delete_cache=(900, 3600), analytics_enabled=False) as demo:
        gr.Markdown("# netprior — image restoration and synthesis by inverting deep networks\n"
                    f"Runs on this machine ({settings.device}); one job at a time, images up to "
                    f"{settings.max_side} px on a side.")
        with gr.Tab("Restore", id="restore"):
            _restore_tab(ws, run_job, cancel)
        with gr.Tab("Texture / style", id="texture"):
            _texture_tab(ws)
        with gr.Tab("GAN", id="gan"):
            _gan_tab(ws, run_job, cancel)
    return demo


def _restore_tab(ws: Workspace, run_job, cancel) -> None:
    from ..io import image_size
    from ..recipes.dip import (PRESETS, crop_to_multiple, deblock_jpeg, denoise, flash_no_flash, get_preset,
                               inpaint, load_observation, super_resolve)

    settings = ws.settings
    with gr.Row():
        with gr.Column(scale=3):
            editor = gr.ImageEditor(
                label="Image (inpainting: paint the missing region)",
                type="filepath", format="png", sources=["upload", "clipboard"], transforms=(), layers=False,
                brush=gr.Brush(colors=["#ff00ff"], default_color="#ff00ff", color_mode="fixed", default_size=12),
                eraser=gr.Eraser(default_size=12), elem_id="restore-editor", height=420)
            flash = gr.Image(label="Flash image (the no-flash image goes above)", type="filepath", visible=False,
                             sources=["upload"], elem_id="restore-flash", height=240)
        with gr.Column(scale=2):
            task = gr.Radio(list(TASKS), value="inpaint", label="Task", elem_id="restore-task")
            preset = gr.Dropdown([TASK_DEFAULT, *PRESETS], value=TASK_DEFAULT, label="Preset",
                                 elem_id="restore-preset")
            cap = gr.Number(value=0, precision=0, minimum=0, label="Step cap (0: the preset's)",
                            elem_id="restore-cap")
            sigma = gr.Number(value=None, minimum=0, label="Noise σ on 0–255 (empty: estimated)", visible=False)
            factor = gr.Radio([2, 3, 4, 8], value=4, label="Upscaling factor", visible=False)
            seed = gr.Number(value=0, precision=0, label="Seed")
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="restore-run")
                stop = gr.Button("Cancel", variant="stop", elem_id="restore-cancel")
            status = gr.Markdown("Upload an image and press Run.", elem_id="restore-status")
    with gr.Row():
        current = gr.Image(label="Current estimate", interactive=False, elem_id="restore-current", height=320)
        compare = gr.ImageSlider(label="Before / after", interactive=False, elem_id="restore-compare",
                                 max_height=320)
        files = gr.File(label="Result PNG and JSON sidecar", file_count="multiple", interactive=False,
                        elem_id="restore-files")

    def show_options(t):
        return (gr.update(visible=t == "flash-no-flash"), gr.update(visible=t == "denoise"),
                gr.update(visible=t == "super-resolve"))

    task.change(show_options, task, [flash, sigma, factor], queue=False)

    def restore(editor_value, flash_path, task_name, preset_name, step_cap, sigma255, scale, seed_value,
                request: gr.Request, progress=gr.Progress()):
        editor_value = editor_value or {}
        scale = int(scale) if task_name == "super-resolve" else 1
        try:
            path = ws.check_upload(editor_value.get("background"), "image", scale)
            if task_name == "flash-no-flash":
                ws.check_upload(flash_path, "flash image")
        except NetpriorError as exc:
            raise gr.Error(str(exc))
        default = {"inpaint": "inpaint", "denoise": "denoise", "jpeg": "jpeg", "flash-no-flash": "flash",
                   "super-resolve": "sr8" if scale == 8 else "sr4"}[task_name]
        chosen = None if preset_name == TASK_DEFAULT else preset_name
        iters = int(step_cap) if step_cap else None
        total = iters or get_preset(chosen or default).iters
        notes = []

        def work(job: Job):
            y, note = load_observation(path, settings.max_side, scale)
            notes.append(note)
            kw = {"iters": iters, "seed": int(seed_value or 0), "device": settings.device, "progress": False,
                  "callback": job.callback}
            inputs = {"image": path}
            if task_name == "inpaint":  # painted on the uploaded image, cropped like it
                m = crop_to_multiple(painted_mask(editor_value.get("layers"), image_size(path)), 32)
                if m.min() == 1:
                    raise NetpriorError("paint the region to fill on the image with the brush first")
                r, before = inpaint(y, m, preset=chosen or default, **kw), y * m
            elif task_name == "denoise":
                r, before = denoise(y, sigma255=float(sigma255) if sigma255 else None, preset=chosen, **kw), y
            elif task_name == "jpeg":
                r, before = deblock_jpeg(y, preset=chosen or default, **kw), y
            elif task_name == "super-resolve":
                r = super_resolve(y, scale, preset=chosen, **kw)
                before = upscale_nearest(y, tuple(r.image.shape[-2:]))
            else:
                f, note_f = load_observation(flash_path, settings.max_side, 1)
                notes.append(note_f)
                inputs["flash"] = flash_path
                r, before = flash_no_flash(f, y, preset=chosen or default, **kw), y
            paths = write_outputs(ws.run_dir(), f"restored-{task_name}", r.image, config=r.config,
                                  inputs=inputs, result=r.result, metrics=r.metrics,
                                  extra={"crop_notice": [n for n in notes if n]})
            return r, before, paths

        def done(value):
            r, before, paths = value
            text = f"**Done**: {r.summary()}.\n\n{_stop_text(r.result.stop)}"
            text += "".join(f"\n\nNote: {n}." for n in notes if n)
            return {status: text, current: preview(r.image), compare: (preview(before), preview(r.image)),
                    files: paths}

        yield {status: "Starting …", files: None, compare: None}
        yield from run_job(request, work, lambda phase: total, progress, done, status, current)

    run.click(restore, [editor, flash, task, preset, cap, sigma, factor, seed], [status, current, compare, files],
              **COMPUTE)
    stop.click(cancel, None, status, queue=False)


def _texture_tab(ws: Workspace) -> None:
    from ..io import check_size, load_image, save_image
    from ..recipes.dip import crop_to_multiple
    from ..recipes.style import apply_style
    from ..recipes.texture import sample
    from ..texture_model import load_model
    from ..report import write_sidecar

    settings = ws.settings
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Sample a texture\nA model file written by `netprior texture train -o tex.pt`; any size "
                        "its scales reach.")
            tex_model = gr.File(label="Texture model (.pt)", file_types=[".pt"], elem_id="texture-model")
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
            gr.Markdown("### Apply a style network\nA model file written by `netprior style train -o style.pt`; one "
                        "forward pass.")
            style_model = gr.File(label="Style model (.pt)", file_types=[".pt"], elem_id="style-model")
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
                raise NetpriorError("upload a texture model (.pt) first")
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
                raise NetpriorError("upload a style model (.pt) first")
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


def _gan_tab(ws: Workspace, run_job, cancel) -> None:
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
