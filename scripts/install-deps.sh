#!/usr/bin/env bash
# Installs the Debian packages Earshot needs to build, test and demo, if any are missing.
# Says what it checks and what it installs. Usage: scripts/install-deps.sh [build|test|demo]
set -euo pipefail

packages=(pkg-config libasound2-dev libsndfile1-dev libsamplerate0-dev libsqlite3-dev zlib1g-dev alsa-utils sox)
case "${1:-build}" in
  test) packages+=(espeak-ng flite python3 python3-venv systemd postgresql chromium curl openssl util-linux libpocketsphinx3 pocketsphinx-en-us) ;;
  demo) packages+=(espeak-ng flite python3 python3-venv systemd curl) ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all Debian packages present (${packages[*]})"
else
  echo "deps: installing missing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "deps: swift is at /opt/swift/usr/bin (add it to PATH)"
  else
    echo "deps: error: no Swift toolchain found. Install Swift 6.1 or newer from swift.org." >&2
    exit 1
  fi
fi
