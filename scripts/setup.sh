#!/usr/bin/env bash
# Installs what building proxyd needs on Debian: libevent and libcurl headers, pkg-config.
# Idempotent; runs apt-get only when something is missing.
set -euo pipefail
packages=(libevent-dev libcurl4-openssl-dev pkg-config ca-certificates curl openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: the Swift toolchain is required (swift not on PATH)" >&2; exit 1; }
