"""The paper's maths, with no file I/O: what the paper's Section 2 describes.

* ``model`` -- the denoising autoencoder: encoder ``E`` (Eq. 1-3), cosine-modulated decoder ``D`` (Eq. 8-10)
* ``conv`` -- how its three convolutions are applied (matrix products or torch's kernels); ``conv_tuning``
  picks the faster per shape
* ``losses`` -- neg-SNR (Eq. 11), total variation (Eq. 4), the objectives L_A and L_B (Eq. 12-13)
* ``sinkhorn`` -- the Sinkhorn distance L_SK (Eq. 5-7): time normalisation, cost matrix, plan, exact gradient
* ``metrics`` -- SI-SDR (Eq. 15), oracle binary masking, additivity (Eq. 14), the STFT baseline
* ``step`` -- one denoising training step of the published procedure
* ``hyperparameters`` -- the one check of (objective, omega, lambda, p); ``fields`` -- dataclasses from mappings
"""
