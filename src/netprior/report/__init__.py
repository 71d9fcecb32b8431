"""Run records and figures: the JSON sidecar of every run (:mod:`.sidecar`) and every figure, grid, GIF strip and
plot netprior draws (:mod:`.figures`)."""

from .figures import (image_grid, save_figure, show_image, write_curves, write_panels, write_report,
                      write_terms_report, write_training_report)
from .sidecar import file_digest, sidecar_path, versions, write_sidecar

__all__ = ["file_digest", "image_grid", "save_figure", "show_image", "sidecar_path", "versions", "write_curves",
           "write_panels", "write_report", "write_sidecar", "write_terms_report", "write_training_report"]
