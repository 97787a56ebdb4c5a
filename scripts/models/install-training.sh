#!/usr/bin/env bash
# Installs what the command-en and phrase-en recipes need (not needed to build or run Earshot): a Python venv with
# tensorflow-cpu, ai-edge-litert and pocketsphinx, and Debian's sox/espeak-ng/flite and festival voices.
# With --lifecycle, only what scripts/lifecycle/run.py (make test, make lifecycle-demo) needs: no festival voices,
# no pocketsphinx wheel (its peer benchmark is not run there).
# Usage: scripts/models/install-training.sh [--lifecycle] [VENV]   (default .venv-training)
set -euo pipefail
cd "$(dirname "$0")/../.."
lifecycle=false
if [ "${1:-}" = "--lifecycle" ]; then lifecycle=true; shift; fi
venv=${1:-.venv-training}
sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
packages=(espeak-ng flite sox python3-venv)
$lifecycle || packages+=(festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
missing=(); for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "training: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
wheels=("tensorflow-cpu==2.21.0" "ai-edge-litert==2.3.0" flatbuffers numpy)
$lifecycle || wheels+=(pocketsphinx)
if ! "$venv/bin/python" -c 'import tensorflow, ai_edge_litert, numpy' >/dev/null 2>&1 || ! $lifecycle; then
  echo "training: pip install ${wheels[*]} into $venv"
  "$venv/bin/pip" install -q "${wheels[@]}"
fi
echo "training: ready ($venv). Build Earshot (swift build -c release), then run the recipes with $venv/bin/python."
