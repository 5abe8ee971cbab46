#!/usr/bin/env bash
# Install the Debian packages listed in deps.txt that are missing (all of
# them with --all), then check that every command, file and Perl or Python
# module deps.txt names is really there: a missing one fails here, naming
# its package, not minutes later inside a build or a check.  Quiet when
# nothing is missing, so every make target can call it: on a fresh Debian
# 12 machine the first "make demo" or "make check" installs what it needs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# deps.txt without comments: "package [uses...]" per line
table=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/deps.txt")
mapfile -t deps < <(awk '{print $1}' <<<"$table")

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed'; }

missing=()
if [ "${1:-}" = --all ]; then
	missing=("${deps[@]}")
else
	for p in "${deps[@]}"; do
		installed "$p" || missing+=("$p")
	done
fi
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "ERROR: not root and no sudo: install ${missing[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	echo "==> installing Debian packages: ${missing[*]}" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Is USE (a deps.txt "uses" word) there?
have() {
	case "$1" in
	perl:*) perl -M"${1#perl:}" -e1 2>/dev/null ;;
	*python3:*) "${1%%:*}" -c "import ${1#*:}" 2>/dev/null ;;
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null ;;
	esac
}
bad=0
while read -r pkg uses; do
	for u in $uses; do
		have "$u" && continue
		state="not installed"
		installed "$pkg" && state="installed, yet this is missing"
		echo "ERROR: $u is missing: Debian package $pkg ($state)" >&2
		bad=1
	done
done <<<"$table"
[ $bad = 0 ] || { echo "ERROR: missing dependencies above; 'make deps' installs them all" >&2; exit 1; }
