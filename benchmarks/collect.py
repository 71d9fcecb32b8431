"""Assemble benchmarks/RESULTS.md from the per-benchmark sections in benchmarks/results/*.md.

    .venv/bin/python benchmarks/collect.py

Each benchmark script (dip.py, speed.py, preimage.py, texture.py, imagine.py, gan_inversion.py, train.py,
age.py, translate.py, pyramid.py, avatar.py, batch.py) writes its own section with the command that produced it; this
script only concatenates them, in that order, under a common header, and points the sections' links to their
figures (written relative to benchmarks/results/) from benchmarks/, where RESULTS.md lives."""

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: A Markdown link target that is a bare file name in benchmarks/results/ (no folder, no URL).
BARE_FIGURE = re.compile(r"\]\(([^)/:]+\.(?:png|gif|jpg))\)")
ORDER = ["dip", "speed", "sure_tuning", "sure_trace", "sure_clipping", "cset_denoise", "gpu_dip", "preimage", "texture",
         "texture_gpu", "texture_v2_colour", "imagine", "imagine_spectral", "imagine_full", "gan_inversion", "train",
         "age", "age_gpu", "translate", "pyramid", "pyramid_long", "pyramid_noise", "pyramid_gpu", "avatar", "batch"]


def main() -> None:
    sections = sorted((HERE / "results").glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER
                                                                       else len(ORDER), p.stem))
    text = ["# Benchmark results", "",
            "Measured on the project's reference machine (2 CPU cores, no GPU) unless a section says otherwise. "
            "Each section names the command that produced it; figures are in `benchmarks/results/`.", ""]
    for s in sections:
        text += [BARE_FIGURE.sub(r"](results/\1)", s.read_text().strip()), ""]
    (HERE / "RESULTS.md").write_text("\n".join(text))
    print(f"wrote {HERE / 'RESULTS.md'} from {len(sections)} sections")


if __name__ == "__main__":
    main()
