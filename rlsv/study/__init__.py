"""Many runs: the paper's grids (``grids``), sweeps over them (``sweeps``), reading their results
(``results``), intervals over seeds and segments (``intervals``), Tables 1-2 (``tables``, ``paper_values``),
Figures 2-6 (``plots``), the whole reproduction (``reproduce``), and the scale study (``scale``,
``diagnostics``, ``scale_figures``)."""
