"""The Gradio page of ``netprior serve``: three tabs that call the same library functions as the CLI (the
Texture / style and GAN tabs are in :mod:`.synthesis_tabs`).

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

from typing import Callable, Iterator

import gradio as gr

from ..errors import NetpriorError
from .jobs import Job
from .synthesis_tabs import gan_tab, texture_tab
from .workspace import COMPUTE, Workspace, painted_mask, preview, upscale_nearest, write_outputs

TASKS = ("inpaint", "denoise", "jpeg", "super-resolve", "flash-no-flash")
TASK_DEFAULT = "task default"


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
            texture_tab(ws)
        with gr.Tab("GAN", id="gan"):
            gan_tab(ws, run_job, cancel)
    return demo


def _restore_tab(ws: Workspace, run_job, cancel) -> None:
    from ..io import image_size
    from ..recipes.dip import deblock_jpeg, denoise, flash_no_flash, get_preset, inpaint, super_resolve
    from ..settings.dip import PRESETS
    from ..inputs import crop_to_multiple, load_observation

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
