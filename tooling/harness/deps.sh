#!/usr/bin/env bash
# Install the Debian packages listed in deps.txt that are missing (all of
# them with --all).  Quiet when nothing is missing, so every make target
# can call it: on a fresh Debian 12 machine the first "make demo" or
# "make check" installs what it needs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t deps < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/deps.txt")

missing=()
if [ "${1:-}" = --all ]; then
	missing=("${deps[@]}")
else
	for p in "${deps[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			missing+=("$p")
	done
fi
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
echo "==> installing Debian packages: ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"
