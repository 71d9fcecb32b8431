"""Image collections for training: folders of images (:mod:`.folder`), resumable DDP-aware batches
(:mod:`.loader`) and the offline default collection (:mod:`.default`).  ``demo.png`` here is the bundled photo of
``netprior demo``."""

from .default import default_root, make_default_collection
from .folder import ImageFolder, heldout_fraction, list_images
from .loader import BatchStream, EpochSampler

__all__ = ["BatchStream", "EpochSampler", "ImageFolder", "default_root", "heldout_fraction", "list_images",
           "make_default_collection"]
