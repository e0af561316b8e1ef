"""The paper's maths, with no file I/O: what the paper's Section 2 describes.

* ``model`` -- the denoising autoencoder: encoder ``E`` (Eq. 1-3), cosine-modulated decoder ``D`` (Eq. 8-10);
  ``model_config`` -- its sizes and initialisation (``ModelConfig``)
* ``conv`` -- its three convolutions, each as matrix products or by torch's kernels; ``conv_methods`` -- the
  ``ConvPlan`` naming the method of each (which plan a run uses is ``rlsv.run.conv_plan``'s decision)
* ``losses`` -- neg-SNR (Eq. 11), total variation (Eq. 4), the objectives L_A and L_B (Eq. 12-13)
* ``sinkhorn`` -- the Sinkhorn distance L_SK (Eq. 5-7): time normalisation, cost matrix, plan, exact gradient
* ``metrics`` -- SI-SDR (Eq. 15), oracle binary masking, additivity (Eq. 14), the STFT baseline
* ``step`` -- one denoising training step of the published procedure
* ``hyperparameters`` -- the objectives and the one rule of their hyper-parameters (omega, lambda, p)
* ``fields`` -- dataclasses from mappings
* blind separation: ``mask_estimator``, ``front_ends``, ``overlap_add``, ``separation_loss``
"""
