"""Audio in: MUSDB18 / MUSDB18-HQ (``musdb``), the embedded synthetic corpus (``synth``), the decode cache
of memory-mapped mono arrays (``cache``), and the training and evaluation segments (``segments``)."""
