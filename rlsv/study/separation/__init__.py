"""Blind separation over a run set: the learned representations of Figure 4 against the STFT.

* ``comparison`` -- the representations compared and where their estimators live, training the estimators
  over seeds, and scoring them next to the oracle binary mask (cached in the estimators' folders)
* ``table`` -- the separation table: means, spreads and intervals over seeds and segments, and its files
* ``example`` -- one test mixture through the blind separators and the oracle masks (notebook 08)
"""
