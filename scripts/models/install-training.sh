#!/usr/bin/env bash
# Installs what the command-en and phrase-en recipes need (not needed to build, test or run Earshot):
# Debian's festival voices and sox/espeak-ng/flite, and a Python venv with tensorflow-cpu, ai-edge-litert and
# pocketsphinx. Usage: scripts/models/install-training.sh [VENV]   (default .venv-training)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-.venv-training}
sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
packages=(espeak-ng flite sox festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts python3-venv)
missing=(); for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "training: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "tensorflow-cpu==2.21.0" "ai-edge-litert==2.3.0" flatbuffers numpy pocketsphinx
echo "training: ready. Build Earshot (swift build -c release), then run the recipes with $venv/bin/python."
