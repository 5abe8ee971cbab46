#!/usr/bin/env bash
# make vm / make kernel: apply the series, build VARIANT and, with a command,
# run it in a guest: all under one hold of the cache lock, so another run
# cannot change the tree between the build and the boot.
#   vm.sh VARIANT            prepare + build
#   vm.sh VARIANT CMD        prepare + build + run CMD (exit status: CMD's)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: vm.sh debug|release|preempt [CMD]}
check_variant "$variant"
"$HARNESS/prepare.sh"
"$HARNESS/build.sh" "$variant"
[ $# -ge 2 ] || exit 0
exec "$HARNESS/run-vm.sh" "$variant" cmd "$2"
