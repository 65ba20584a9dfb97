#!/usr/bin/env bash
# Installs what Petrel's build and tests need on Debian 12, and nothing that is
# already there. The one place dependencies are listed: the Makefile calls it
# before `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(pkg-config libuv1-dev libcjson-dev zlib1g-dev libcmocka-dev libmicrohttpd-dev libraft-dev
      clang libclang-rt-14-dev)
# Metrics and console tests: the reference Prometheus text parser, headless Chromium.
PKGS+=(python3-prometheus-client chromium)
# Node.js for the interoperability tests with ali-ons (npm). Debian's nodejs
# (18) is enough; a newer one already installed is kept.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for tests/compat, pinned by the committed lock file.
if [ "${1:-}" != "--no-npm" ] && [ -f tests/compat/package-lock.json ]; then
    if [ ! -d tests/compat/node_modules ] || [ tests/compat/package-lock.json -nt tests/compat/node_modules/.stamp ]; then
        (cd tests/compat && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
    fi
fi

# npm packages for tests/console (puppeteer-core), pinned by the committed lock file.
if [ "${1:-}" != "--no-npm" ] && [ -f tests/console/package-lock.json ]; then
    if [ ! -d tests/console/node_modules ] || [ tests/console/package-lock.json -nt tests/console/node_modules/.stamp ]; then
        (cd tests/console && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
    fi
fi
