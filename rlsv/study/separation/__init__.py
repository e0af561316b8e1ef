"""Blind separation over a run set: the learned representations of Figure 4 against the STFT.

* ``comparison`` -- the representations compared, training their estimators over seeds, scoring them
  next to the oracle binary mask, and the separation table
* ``example`` -- one test mixture through the blind separators and the oracle masks (notebook 08)
"""
