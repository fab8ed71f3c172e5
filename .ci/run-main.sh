#!/usr/bin/env bash
# Installs, builds and runs the main job on its built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
exec build/bin/afd-sizer demo --svg "$PWD/build/demo-timeline.svg" "$@"
