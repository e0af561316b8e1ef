#!/usr/bin/env bash
# Install PyTorch into the virtual environment without ever pulling CUDA wheels onto a CPU machine.
#   usage: scripts/install_torch.sh VENV_PYTHON TORCH_VERSION
# Order: already installed -> nothing; NVIDIA GPU present -> the default (CUDA) build from PyPI;
# otherwise a local CPU wheel (pip's find-links, e.g. PIP_FIND_LINKS) or the official CPU index.
set -euo pipefail
py="$1"; version="$2"
cpu_index="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
have=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ -n "$have" ] && [ "${have%%+*}" = "$version" ]; then
  exit 0
fi
if [ -n "$have" ]; then
  echo "rlsv: keeping the installed torch $have (wanted $version; remove .venv to reinstall)."
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "rlsv: NVIDIA GPU found, installing torch==$version with CUDA from PyPI."
  exec "$py" -m pip install -q "torch==$version"
fi
echo "rlsv: no GPU, installing the CPU build of torch==$version."
# A local CPU wheel (pip's find-links) first, on its own; then its dependencies from the configured index
# (torch itself is then satisfied, so nothing else can replace it with a CUDA build).
if "$py" -m pip install -q --no-index --no-deps "torch==$version" 2>/dev/null; then
  exec "$py" -m pip install -q "torch==$version"
fi
exec "$py" -m pip install -q "torch==$version" --index-url "$cpu_index"
