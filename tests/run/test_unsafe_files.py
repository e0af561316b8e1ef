"""A file that would run code when unpickled is refused by every reader of run files, the code never runs, and
the message names the file and says what to do, without torch's advice to load it unsafely."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlsv.errors import RunFolderError
from rlsv.run.model_file import read_torch_file
from rlsv.run.resumable import read_checkpoint


class _RunsCode:
    """Unpickling this calls ``Path.touch`` on the marker: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("reader", [read_torch_file, read_checkpoint], ids=["model file", "checkpoint"])
def test_a_file_that_would_run_code_is_refused_and_never_runs(reader, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": "x", "payload": _RunsCode(marker)}, path)
    with pytest.raises(RunFolderError) as refused:
        reader(path)
    message = str(refused.value)
    assert str(path) in message and "objects other than tensors and plain values" in message
    assert "Delete it" in message and "weights_only` set to `False`" not in message
    assert not marker.exists()
