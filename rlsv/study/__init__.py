"""Many runs: grids of runs, their execution, their results, and what is made of them.

* the grids and their sweeps: ``grids`` (the paper's grids, the findings' grid points), ``sweeps`` (a sweep and
  its settings), ``sweep_plan`` (the runs of a grid and its seeds), ``sweep_verdicts`` (skip, conflict, busy or
  run), ``sweep_run`` (claiming and executing one run), ``notebook_runs`` (notebooks 02 and 03 through
  papermill), ``claims`` (locks, status and outcomes for any study), ``executors``, ``worker_pool`` and
  ``slurm_jobs`` (local processes, submitit, SLURM);
* reading them: ``results`` (run folders into frames, run sets), ``run_overview`` (``rlsv status``),
  ``intervals`` (seeds and segments bootstrap), ``trends`` (the paper's three trends as differences with
  intervals), ``provenance`` (what made a table or figure);
* Tables 1-2 and Figures 2-6: ``paper_values`` (the published numbers), ``tables``, ``plots`` (Figures 3, 5, 6),
  ``representation_plots`` (Figures 2, 4), ``readings`` (each figure's claim, numbers and reading),
  ``results_snippet`` (the numbers the README quotes), ``reproduce`` (the whole reproduction), ``report`` (the
  HTML report);
* beyond the paper: ``scale``, ``diagnostics``, ``scale_figures`` (the scale study), ``transfer`` (the real
  MUSDB18 excerpt), ``separation`` and ``separation_example`` (blind separation).
"""
