"""Blind separation's maths, no I/O: a mask estimated from the mixture alone, on a representation.

* ``mask_estimator`` -- the open-unmix-like estimator (``(batch, F, T)`` magnitudes -> a soft mask), its
  parameter count and the width that fits a parameter budget
* ``front_ends`` -- what the estimator sees and resynthesises through: the run's frozen autoencoder
  (``D(M * A_m)``) or the STFT baseline (``iSTFT(M * X_m)``), and the oracle binary mask on each
* ``overlap_add`` -- a signal of any length cut into overlapping segments and put back together by a
  Hann-weighted average, whole or block by block
* ``loss`` -- the estimator's training loss: negative SI-SDR (``rlsv.core.metrics.si_sdr``) over the
  segments with active vocals
"""
