"""Measures of generated image sets: FID and KID with the offline Inception-v3 FID network (:mod:`.fid`)."""

from .fid import (
    GeneratorFID,
    InceptionFeatures,
    extract,
    fid_kid,
    folder_features,
    frechet_distance,
    inception_weights_path,
    kernel_distance,
)

__all__ = ["GeneratorFID", "InceptionFeatures", "extract", "fid_kid", "folder_features", "frechet_distance",
           "inception_weights_path", "kernel_distance"]
