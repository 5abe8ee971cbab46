#!/usr/bin/env bash
# patches/ and series are exactly what tooling/series/gen.sh makes of the tree.
set -euo pipefail
exec "$(dirname "$0")/../series/gen.sh" --check
