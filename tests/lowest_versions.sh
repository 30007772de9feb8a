#!/usr/bin/env bash
# Proves the lower bounds in pyproject.toml: builds a fresh venv with every direct dependency
# (runtime and the `test` extra) at the LOWEST version the bounds allow, prints those versions,
# then runs the test suite there. Transitive dependencies resolve to their newest versions
# (uv's --resolution lowest-direct), as a user who installs today would get.
#
# Run from anywhere:   bash tests/lowest_versions.sh [pytest args...]
#   e.g.               bash tests/lowest_versions.sh tests/test_history.py -x
# Needs: uv (`python3 -m pip install uv`), python3.11+, and the system packages .ci/run installs.
# Env:   LOWEST_VENV   where to build the venv (default: $TMPDIR/reportgen-lowest-venv; rebuilt each run)
#        PYTHON        the interpreter for the venv (default: python3)
# Time:  install about 35 s with a warm uv cache; the full suite took 8-15 min here on a
#        2-core machine shared with other jobs (a normal-versions run in the same conditions: 13 min).
# Not part of .ci/run: it doubles CI time. Exit status is pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${LOWEST_VENV:-${TMPDIR:-/tmp}/reportgen-lowest-venv}"
python="$(command -v "${PYTHON:-python3}")"
python="$("$python" -c 'import sys; print(sys.executable)')"  # uv wants the real interpreter, not a shim

rm -rf "$venv"
uv venv --quiet --seed --python "$python" "$venv"  # --seed: pip inside, tests/test_packaging.py calls it
uv pip install --quiet --python "$venv/bin/python" --resolution lowest-direct -e ".[test]"

echo "Direct dependencies at their lowest allowed versions:"
"$venv/bin/python" - <<'EOF'
import re
import tomllib
from importlib.metadata import version

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
direct = project["dependencies"] + project["optional-dependencies"]["test"]
for requirement in direct:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group()
    print(f"  {name:<16} {version(name):<12} (pyproject: {requirement})")
EOF

export PATH="$venv/bin:$PATH"  # as with the venv activated (the README's test command)
exec "$venv/bin/python" -m pytest "$@"
