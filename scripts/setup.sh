#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running ScriptHammer companion:
# system packages (apt-get), the virtualenv at .venv, Python and npm deps, the database,
# then the main job (Redis, an RQ worker and the API, with the band and a demo track).
#
#   scripts/setup.sh                 install everything, then start (`scripthammer up`)
#   scripts/setup.sh --install-only  install everything and stop there
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
INSTALL_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --install-only) INSTALL_ONLY=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- system packages -------------------------------------------------------------
PACKAGES=(
  python3 python3-venv python3-dev python3-pip build-essential git ca-certificates curl
  janus janus-tools jackd2 coturn
  ffmpeg sox fluidsynth fluid-soundfont-gm espeak-ng supercollider-server util-linux bubblewrap libimage-exiftool-perl
  redis-server postgresql mariadb-server
  chromium fonts-dejavu-core
  php-cli php-mysql php-xml php-curl php-mbstring php-gd php-zip wordpress wordpress-theme-twentytwentyone phpunit
)
# Node.js and npm: Debian's packages, unless a Node.js with npm is already there (NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python ------------------------------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.scripthammer-deps
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python dependencies"
  .venv/bin/pip install -q --upgrade pip wheel
  .venv/bin/pip install -q -e ".[test,postgres,mysql]"
  touch "$stamp"
fi

# --- the player bundle (npm) ---------------------------------------------------------
if [ -f player/package.json ]; then
  if [ ! -d player/node_modules ] || [ player/package.json -nt player/node_modules ]; then
    echo "==> npm install (player)"
    (cd player && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --loglevel=error \
                    || npm install --no-audit --no-fund --loglevel=error; })
  fi
  echo "==> building the player bundle"
  (cd player && npm run --silent build)
fi

# --- the wp-admin Listening dashboard's charts (npm: uPlot), built into wp-plugin/scripthammer/assets/dashboard/ ---
if [ -f wp-plugin/admin-src/package.json ]; then
  if [ ! -d wp-plugin/admin-src/node_modules ] || [ wp-plugin/admin-src/package.json -nt wp-plugin/admin-src/node_modules ]; then
    echo "==> npm install (wp-admin dashboard)"
    (cd wp-plugin/admin-src && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --loglevel=error \
                    || npm install --no-audit --no-fund --loglevel=error; })
  fi
  echo "==> building the wp-admin dashboard's charts"
  (cd wp-plugin/admin-src && npm run --silent build)
fi

# --- the studio app (npm): roll, score (OpenSheetMusicDisplay), FluidSynth in WebAssembly (js-synthesizer) ---
if [ -f studio/package.json ]; then
  if [ ! -d studio/node_modules ] || [ studio/package.json -nt studio/node_modules ]; then
    echo "==> npm install (studio)"
    (cd studio && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --loglevel=error \
                    || npm install --no-audit --no-fund --loglevel=error; })
  fi
  echo "==> building the studio"
  (cd studio && npm run --silent build)
fi

# --- the database ---------------------------------------------------------------------
mkdir -p var
.venv/bin/scripthammer migrate

if [ "$INSTALL_ONLY" = 1 ]; then
  echo "==> installed. Start with: .venv/bin/scripthammer up"
  exit 0
fi
echo "==> starting the companion (Ctrl-C stops it)"
exec .venv/bin/scripthammer up
