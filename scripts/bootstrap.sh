# Shared set-up for scripts/demo and scripts/test: system libraries, a virtual environment and
# the project installed into it. Sourced, not run. Safe to repeat: it only does what is missing.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CL360_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
# Pango renders the PDF reports (WeasyPrint), HarfBuzz-Subset embeds only the glyphs they use;
# Inter and DejaVu are the fonts they embed.
SYSTEM_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-inter fonts-dejavu-core fontconfig)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

missing_debian_packages() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$package"
  done
}

ensure_debian_packages() {
  command -v dpkg-query >/dev/null || {
    say "not a Debian system: make sure Pango and the Inter font are installed (WeasyPrint needs them)"
    return 0
  }
  local missing
  missing="$(missing_debian_packages "$@")"
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing system packages: $missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "These system packages are needed and I cannot install them without root:" >&2
    echo "    sudo apt-get install -y $missing" >&2
    echo "Run that, then run this command again." >&2
    exit 1
  fi
}

ensure_python() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
    echo "Python 3.11 or newer is needed as '$PYTHON' (set PYTHON=/path/to/python3.11 to choose one)." >&2
    exit 1
  }
  # Debian ships venv's pip bootstrap in a separate package.
  if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    local version
    version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    ensure_debian_packages "python${version}-venv"
  fi
}

ensure_venv() {
  local extras="$1"
  ensure_python
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$extras"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing the project and its dependencies ($extras)"
    # pip's build chatter goes to a log, shown only when something fails.
    if ! { "$VENV/bin/python" -m pip install --upgrade pip \
        && "$VENV/bin/python" -m pip install -e "$ROOT[$extras]"; } >"$VENV/install.log" 2>&1; then
      cat "$VENV/install.log" >&2
      echo "Installing the Python dependencies failed (log above, kept in $VENV/install.log)." >&2
      exit 1
    fi
    touch "$stamp"
  fi
}

setup() {
  ensure_debian_packages "${SYSTEM_PACKAGES[@]}"
  ensure_venv "$1"
}
