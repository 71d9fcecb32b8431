"""Unsupervised segmentation from a generator's self-attention map (Pividori et al. 2019, §5).

Given the attention matrix A ∈ R^{N×N} of a self-attention block (A_ij = attention paid to position j when
computing position i; rows sum to 1), the dissimilarity between positions is

    D = (1 − (A + Aᵀ)/2) ⊙ (1 − I)

(symmetric, zero on the diagonal), and agglomerative hierarchical clustering with average linkage on D gives the
segments: clusters are joined by the average attention their members pay to each other.

When the keys live on a coarser grid than the queries (BigGAN's non-local block max-pools the keys 2×, the
"subsampling trick"), each key column is first upsampled to the query grid (nearest neighbour, weights divided by
the number of copies so that rows still sum to 1), which makes A square at the attention (query) resolution; the
label map has that resolution and is upsampled to the image for display.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .errors import InputError


def square_attention(attn: Tensor, query_hw: tuple[int, int], key_hw: tuple[int, int]) -> Tensor:
    """(N_q, N_k) attention with keys on ``key_hw`` → (N_q, N_q) with keys upsampled to ``query_hw``."""
    if attn.dim() != 2 or attn.shape != (query_hw[0] * query_hw[1], key_hw[0] * key_hw[1]):
        raise InputError(f"attention of shape {tuple(attn.shape)} does not match query grid {query_hw} and key "
                         f"grid {key_hw}")
    if tuple(query_hw) == tuple(key_hw):
        return attn
    fy, fx = query_hw[0] // key_hw[0], query_hw[1] // key_hw[1]
    if fy * key_hw[0] != query_hw[0] or fx * key_hw[1] != query_hw[1]:
        raise InputError(f"key grid {key_hw} does not divide the query grid {query_hw}")
    a = attn.reshape(-1, *key_hw)
    a = a.repeat_interleave(fy, dim=1).repeat_interleave(fx, dim=2) / (fy * fx)
    return a.reshape(attn.shape[0], -1)


def dissimilarity(attn: Tensor) -> Tensor:
    """D = (1 − (A + Aᵀ)/2) ⊙ (1 − I) for a square attention matrix A."""
    if attn.dim() != 2 or attn.shape[0] != attn.shape[1]:
        raise InputError(f"the dissimilarity needs a square attention matrix, got {tuple(attn.shape)}")
    d = 1 - (attn + attn.T) / 2
    return d * (1 - torch.eye(attn.shape[0], dtype=d.dtype, device=d.device))


def cluster(dis: Tensor | np.ndarray, k: int) -> np.ndarray:
    """Average-linkage agglomerative clustering of a dissimilarity matrix into ``k`` clusters; labels 0..k−1
    ordered by first appearance (row-major)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    d = dis.detach().double().cpu().numpy() if isinstance(dis, Tensor) else np.asarray(dis, dtype=np.float64)
    n = d.shape[0]
    if not 1 <= k <= n:
        raise InputError(f"number of clusters must be in 1..{n} (the attention map's positions), got {k}")
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    raw = fcluster(linkage(squareform(d, checks=False), method="average"), t=k, criterion="maxclust")
    _, first = np.unique(raw, return_index=True)
    order = {raw[i]: rank for rank, i in enumerate(sorted(first))}
    return np.array([order[v] for v in raw], dtype=np.int64)


def segment_attention(attn: Tensor, query_hw: tuple[int, int], key_hw: tuple[int, int], k: int) -> np.ndarray:
    """Label map (H_q, W_q) with ``k`` segments from one attention matrix (N_q, N_k)."""
    labels = cluster(dissimilarity(square_attention(attn, query_hw, key_hw)), k)
    return labels.reshape(query_hw)


def mean_colour_image(labels: np.ndarray, image: Tensor) -> Tensor:
    """Paint each segment with the mean colour of its pixels (the paper's Fig. 6 display); the label map is
    upsampled (nearest) to the image size.  ``image`` (1, C, H, W) in [0, 1]."""
    h, w = image.shape[-2:]
    lab = torch.from_numpy(labels)[None, None].float()
    lab = torch.nn.functional.interpolate(lab, size=(h, w), mode="nearest")[0, 0].long()
    out = torch.zeros_like(image)
    for v in lab.unique():
        m = lab == v
        out[0][:, m] = image[0][:, m].mean(dim=1, keepdim=True)
    return out
