"""One run: what identifies it (``spec`` grid point, ``profiles`` sizes, ``config`` RunParameters), where its
data comes from (``data``), training (``train``, resumable) and evaluation (``evaluate``), its files
(``files`` names, ``model_file``, ``status``, ``lock``), the two steps as notebooks 02/03 call them
(``pipeline``), per-metric statistics (``summary``) and one segment through a model (``segment_view``)."""
