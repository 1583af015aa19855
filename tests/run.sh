#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: the README's test command and CI's.
#
#   bash tests/run.sh [pytest arguments]
#
# Makes .venv with the package and its test dependencies, makes a Docker daemon and the
# test image available (tests/docker/setup.sh; installs docker.io when run as root),
# runs ruff (lint and format) and mypy, then pytest with branch coverage (of the
# processes the tests start too). Docker tests never skip: without
# a daemon they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "run.sh: making .venv"
    "$python" -m venv .venv
fi
echo "run.sh: installing braket-async[test] into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

bash tests/docker/setup.sh
# Ray for the Ray tests, in an environment of its own (the library needs none).
bash tests/ray/setup.sh
# The progress display is tested in a real terminal.
if ! command -v tmux >/dev/null 2>&1; then
    echo "run.sh: installing tmux with apt-get"
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends tmux >/dev/null
fi

# The service example is tested in a real headless browser.
if [ ! -x /usr/bin/chromium ]; then
    echo "run.sh: installing chromium with apt-get"
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null
fi

echo "run.sh: ruff"
.venv/bin/ruff check braket_async tests benchmarks examples
.venv/bin/ruff format --check braket_async tests benchmarks examples
echo "run.sh: mypy"
.venv/bin/mypy
echo "run.sh: pytest"
exec .venv/bin/python -m pytest --cov --cov-report=term:skip-covered "$@"
