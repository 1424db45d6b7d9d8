#!/usr/bin/env bash
# OpenHands from PyPI for the compat suite (test/server/openhands): a venv with openhands-ai 1.6.0,
# the last release with the V0 runtime client, and exactly the packages in
# test/server/openhands/requirements.txt, installed with pip --no-deps (no resolver: the same
# set every time). The venv lives in a cache outside the clone, keyed by the version and the
# requirements' hash; it counts as made only once its imports were checked, so a run killed
# half-way is redone, and a new one replaces the older ones. Prints the venv's python on stdout;
# progress goes to stderr.
#
#   bash scripts/openhands.sh                 install if needed, print the python
#   bash scripts/openhands.sh --print-python  print the python of a finished install; exit 1 if none
#
# Environment:
#   RUNTIME_CLIENT_CACHE  cache directory (default ~/.cache/runtime-client)
#   OPENHANDS_PYTHON      a Python >= 3.12 to build the venv with (default: the first found:
#                         python3.13, python3.12, python3 on PATH, then pyenv's 3.12+ versions);
#                         "trixie": a Debian trixie root (python3.13) made with debootstrap
#                         (as root) and cached, as when the machine has no Python >= 3.12
set -euo pipefail

VERSION=1.6.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REQUIREMENTS=$ROOT/test/server/openhands/requirements.txt
CACHE=${RUNTIME_CLIENT_CACHE:-$HOME/.cache/runtime-client}
HASH=$(sha256sum "$REQUIREMENTS" | cut -c1-12)
# The modules the suite drives: OpenHands' runtime client, its serialization, and its editor.
IMPORTS='import openhands.runtime.impl.action_execution.action_execution_client, openhands.runtime.impl.remote.remote_runtime, openhands.events.serialization, openhands.runtime.builder.remote, openhands_aci.editor, pytest'

say() { echo "openhands.sh: $*" >&2; }
die() { say "$*"; exit 1; }

case "${1:-}" in
  '') mode=install ;;
  --print-python) mode=print ;;
  -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "openhands.sh: unknown argument '$1' (use --print-python or nothing)" >&2; exit 2 ;;
esac

# A Python that is >= 3.12 and can make a venv with pip; prints its path.
usable() {
  [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
  "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 || return 1
  "$1" -c 'import sys; print(sys.executable)'
}

find_python() {
  local candidate
  if [ -n "${OPENHANDS_PYTHON:-}" ] && [ "$OPENHANDS_PYTHON" != trixie ]; then
    usable "$OPENHANDS_PYTHON" || die "OPENHANDS_PYTHON=$OPENHANDS_PYTHON is not a Python >= 3.12 with venv and ensurepip."
    return
  fi
  # pyenv's shims are on PATH for every version but fail for one that is not selected: usable() runs each.
  for candidate in python3.13 python3.12 python3; do usable "$candidate" && return; done
  local roots=(/root/.pyenv)
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
  for candidate in $(printf '%s\n' "${roots[@]}" | sort -u | sed 's|$|/versions/3.1[2-9]*/bin/python3|'); do
    usable "$candidate" && return
  done
  return 1
}

# The trixie fallback: a Debian trixie root with python3.13 and venv, made once by debootstrap.
# Its python runs on this machine through the root's own loader and libraries, so the venv and
# the tests see this machine's files and network; prints the python (a wrapper in the root).
trixie_python() {
  local dir=$CACHE/trixie-python3.13 wrapper
  wrapper=$dir/python3
  if [ ! -f "$dir/.complete" ]; then
    [ "$(id -u)" = 0 ] || die "the Debian trixie root needs root (debootstrap); run as root or install Python >= 3.12."
    if ! command -v debootstrap >/dev/null 2>&1; then
      command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get to install it."
      say "installing debootstrap (apt-get) ..."
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >&2 || die "apt-get install debootstrap failed."
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    say "building a Debian trixie root in $dir (debootstrap, a few minutes) ..."
    debootstrap --variant=minbase --include=python3,python3-venv trixie "$dir/root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2 ||
      die "debootstrap of trixie failed (see above)."
    local ld lib
    ld=$(cd "$dir/root" && ls lib64/ld-linux-*.so.* lib/ld-linux-*.so.* 2>/dev/null | head -1)
    lib=$(cd "$dir/root/usr/lib" && ls -d *-linux-gnu | head -1)
    [ -n "$ld" ] && [ -n "$lib" ] || die "the trixie root in $dir has no loader or library directory."
    # A venv made with it links its python to this script, which passes on the name it was
    # called by: Python finds the venv from it and its standard library from PYTHONHOME.
    cat >"$wrapper" <<EOF
#!/bin/sh
# python3.13 of the Debian trixie root here, run with the root's loader and libraries.
PYTHONHOME="$dir/root/usr" exec "$dir/root/$ld" --library-path "$dir/root/usr/lib/$lib:$dir/root/lib/$lib" --argv0 "\$0" "$dir/root/usr/bin/python3.13" "\$@"
EOF
    chmod +x "$wrapper"
    "$wrapper" -c 'import sys, venv; assert sys.version_info >= (3, 12)' || die "the trixie python in $dir does not run here."
    touch "$dir/.complete"
  fi
  echo "$wrapper"
}

VENV=$CACHE/openhands-$VERSION-$HASH
[ "${OPENHANDS_PYTHON:-}" = trixie ] && VENV=$VENV-trixie
PY=$VENV/bin/python

if [ -f "$VENV/.complete" ] && "$PY" -c '' 2>/dev/null; then
  echo "$PY"
  exit 0
fi
[ "$mode" = print ] && die "OpenHands $VERSION is not installed in $VENV; run: bash scripts/openhands.sh"

mkdir -p "$CACHE"
exec 9>"$CACHE/openhands.lock"
flock 9 # one install at a time; a second run waits, then finds it made
if [ -f "$VENV/.complete" ] && "$PY" -c '' 2>/dev/null; then
  echo "$PY"
  exit 0
fi

if [ "${OPENHANDS_PYTHON:-}" = trixie ]; then
  base=$(trixie_python) || exit 1
elif ! base=$(find_python); then
  [ -z "${OPENHANDS_PYTHON:-}" ] || exit 1 # find_python said what is wrong with it
  # No Python >= 3.12 here: as root, with debootstrap (or apt-get to install it), one from a Debian trixie root.
  if [ "$(id -u)" = 0 ] && { command -v debootstrap || command -v apt-get; } >/dev/null 2>&1; then
    say "no Python >= 3.12 here: using one from a Debian trixie root"
    base=$(trixie_python) || exit 1
  else
    die "no Python >= 3.12 (with venv) found: tried python3.13, python3.12 and python3 on PATH and pyenv's versions. Install one, set OPENHANDS_PYTHON=/path/to/python3.12, or OPENHANDS_PYTHON=trixie (as root) to build a Debian trixie root with debootstrap."
  fi
fi
say "installing openhands-ai $VERSION into $VENV with $base ($("$base" --version 2>&1)) ..."
rm -rf "$VENV" # a half-made venv from a killed run
wheel=$(ls "$(dirname "$base")"/root/usr/share/python-wheels/pip-*.whl 2>/dev/null | head -1 || true)
if [ "$base" = "$CACHE/trixie-python3.13/python3" ] && [ -n "$wheel" ]; then
  # Debian's ensurepip takes pip from /usr/share/python-wheels, which is this machine's (too old
  # for 3.13): the venv gets no pip, and the trixie root's pip wheel, run as it is, installs.
  "$base" -m venv --without-pip "$VENV"
  "$PY" "$wheel/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS" >&2
else
  "$base" -m venv "$VENV"
  "$PY" -m pip install --quiet --no-deps -r "$REQUIREMENTS" >&2
fi
# LiteLLM fetches a price list from the network at import unless told to use its own copy.
LITELLM_LOCAL_MODEL_COST_MAP=True "$PY" -c "$IMPORTS" >/dev/null ||
  die "the install in $VENV does not import OpenHands' runtime client; see the traceback above."
touch "$VENV/.complete"
# Each install is some 700 MB: those of other requirements (an older pin set) go.
for old in "$CACHE"/openhands-*; do
  [ "$old" = "$VENV" ] || [ ! -d "$old" ] || { say "removing the older install $old"; rm -rf "$old"; }
done
say "done: $VENV"
echo "$PY"
