"""Data for textured neural avatars (thesis ch. 6): pinhole cameras (:mod:`.camera`), a z-buffer triangle
rasteriser (:mod:`.rasterise`), the BODY_25 skeleton and its bone maps (:mod:`.bones`), the synthetic capsule body
(:mod:`.body`, :mod:`.synthetic`) and the on-disk data set of frames, masks and OpenPose keypoints
(:mod:`.dataset`).  The networks are in :mod:`netprior.nets.avatar`, the method in :mod:`netprior.recipes.avatar`."""
