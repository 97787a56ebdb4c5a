#!/usr/bin/env bash
# Creates .venv-oracles with the pinned reference packages some tests read from (the microWakeWord models inside
# pymicro-wakeword are not committed; tests load them from this venv). Quiet when already present.
# Usage: scripts/oracles/install-venv.sh [--all]   (--all adds the oracle packages used to regenerate vectors)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-oracles
marker="$venv/.earshot-installed-${1:-tests}"
if [ -f "$marker" ]; then exit 0; fi
if ! python3 -c 'import venv' 2>/dev/null; then
  echo "oracles: python3-venv is missing; installing it"
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv
fi
echo "oracles: creating $venv with pymicro-wakeword (its bundled microWakeWord models are test inputs)"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check pymicro-wakeword==2.5.0 pymicro-features==2.0.2
if [ "${1:-}" = "--all" ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/oracles/requirements.txt
fi
touch "$marker"
