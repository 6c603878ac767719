# Shared by scripts/demo and scripts/test: a project virtual environment with fieldlab installed.
# Usage: source scripts/bootstrap.sh [pip extras]   (e.g. "test")
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    # Only what is missing, so a prepared machine starts in seconds.
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "fieldlab needs Python 3.11 or newer" >&2; exit 1; }
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv python3-pip
fi
# libarchive-c (RAR, WinZip AES zip) loads the system libarchive: libarchive13 on Debian 12, libarchive13t64 on 13
if ! dpkg -s libarchive13 >/dev/null 2>&1 && ! dpkg -s libarchive13t64 >/dev/null 2>&1; then
    as_root apt-get update -qq
    if apt-cache show libarchive13t64 >/dev/null 2>&1; then apt_install libarchive13t64; else apt_install libarchive13; fi
fi
# WeasyPrint (PDF reports) loads Pango and HarfBuzz; the report's text is set in DejaVu
apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
extras="${1:-}"
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --editable "$target"
