# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by .ci/start and .ci/test: install missing Debian packages, then
# configure and build.  Sourced, not run.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${MAILER_BUILDDIR:-$top/build}

missing_packages () {
  local pkg
  for pkg in $(grep -Ev '^\s*(#|$)' "$top/.ci/packages"); do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
      printf '%s\n' "$pkg"
    fi
  done
}

ensure_packages () {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  [ -n "${missing// /}" ] || return 0

  if [ "$(id -u)" -ne 0 ]; then
    echo "Mailer needs these Debian packages: $missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends $missing" >&2
    echo "then run this command again." >&2
    exit 1
  fi

  echo "Installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  # Service start-up is not wanted from package scripts: the tests and the
  # demo start private server instances of their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y --no-install-recommends $missing ||
    { apt-get update && apt-get install -y --no-install-recommends $missing; }
}

build () {
  if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" "$top"
  fi
  meson compile -C "$builddir"
}
