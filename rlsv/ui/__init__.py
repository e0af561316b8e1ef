"""What notebooks show: display helpers (tables, figures, audio players; ``display``) and the lambda
explorer (``explorer``)."""
