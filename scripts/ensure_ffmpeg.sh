#!/usr/bin/env bash
# musdb (through stempeg) imports only when ffmpeg and ffprobe are on PATH.
# Install them with apt-get when we are root on Debian/Ubuntu; otherwise stop and say how.
set -euo pipefail
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "rlsv: ffmpeg/ffprobe not found; installing them with apt-get (Debian package 'ffmpeg')..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends ffmpeg >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends ffmpeg >/dev/null; }
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && exit 0
fi
cat >&2 <<'MSG'
rlsv: ffmpeg and ffprobe must be on PATH (musdb decodes MUSDB18 .stem.mp4 files with them).
Install them, then run make again:
  Debian/Ubuntu:  sudo apt-get install ffmpeg
  macOS:          brew install ffmpeg
  conda:          conda install -c conda-forge ffmpeg   (environment.yml already lists it)
MSG
exit 1
