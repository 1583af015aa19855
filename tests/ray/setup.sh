#!/usr/bin/env bash
# Make the Ray of the Ray tests available: ray[default] in a virtual environment of its
# own (the library needs no Ray where jobs are created; the cluster's nodes run from
# this one). Idempotent: does nothing when that Ray is installed already.
set -euo pipefail

VERSION="2.60.0"
VENV="${BRAKET_ASYNC_RAY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/braket-async/ray-$VERSION}"
python=${PYTHON:-python3}

if [ -x "$VENV/bin/ray" ] && "$VENV/bin/python" -c "import ray, sys; sys.exit(ray.__version__ != '$VERSION')" 2>/dev/null; then
    echo "ray/setup.sh: Ray $VERSION is in $VENV"
    exit 0
fi
echo "ray/setup.sh: installing ray[default]==$VERSION into $VENV"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$python" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ray[default]==$VERSION"
"$VENV/bin/ray" --version
