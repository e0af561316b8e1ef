"""Blind separation on one run: a mask estimator trained on the run's representation, and what it separates.

* ``files`` -- where a run's separators live (``<run>/separator-s<seed>/``) and the names of their files
* ``training_data`` -- the run's own training tracks and segmentation, which a separator trains on
* ``separator`` -- :class:`~rlsv.run.separation.separator.Separator` (front end + estimator, an
  ``nn.Module``), ``separator.pt`` written and read back (the run's ``model.pt`` checked as evaluate does)
* ``training`` -- ``train_separator``: resumable training of an estimator
* ``training_time`` -- a training's planned steps, and its expected time measured on its first steps
* ``evaluation`` -- blind and oracle estimates of whole tracks, scored by SI-SDR and BSSEval v4
* ``streaming`` -- a signal of any length through a separator by windowed overlap-add, block by block
* ``recording`` -- ``rlsv separate``: a user's recording into ``vocals.wav`` and ``accompaniment.wav`` in
  bounded memory, never over the input (nor over existing stems unless asked)
* ``quality`` -- the quality to expect from a separator: the scores measured for it, or that there are none
"""
