#!/usr/bin/env bash
# run-vm.sh VARIANT selftests|cmd [COMMAND]
# Boot $CACHE/build/VARIANT in QEMU (TCG), run the mode (see init) and
# extract the guest's /out into $CACHE/run/VARIANT/out.  The console is
# echoed to stdout and saved in $CACHE/run/VARIANT/console.log.
# vCPUs: 2 (debug, release) or 4 (preempt), one socket each: without ACPI
# (tinyconfig) the kernel found CPUs only in SeaBIOS's MP table, which
# lists one CPU per socket.  base.config has ACPI now (its MADT lists every
# CPU), so sockets=N is no longer needed but kept: the guest's CPU count is
# checked against it either way (/out/guest-info.txt, written by init).
# Environment: DIR (host directory copied to /host), OUT (host directory
# receiving /out), VM_TIMEOUT (s), VM_MEM (MiB), VM_CPUS (vCPUs, default by
# variant, at most the kernel's CONFIG_NR_CPUS), ZRAM_MB (zram swap, 0=none),
# VM_APPEND (extra kernel command line), GUEST_ENV (NAME=VALUE words
# exported in the guest before the mode runs), DISK_SWAP_MB (disk-backed
# swap, MiB, 0=none), SCRATCH_MB (ext2 disk at /var/tmp, MiB, default 64).
# Exit status: the command's (cmd mode), 0 (selftests mode, results
# extracted), 124 if the guest timed out, 1 on other errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: run-vm.sh debug|release|preempt selftests|cmd [COMMAND]}
mode=${2:?usage: run-vm.sh debug|release|preempt selftests|cmd [COMMAND]}
cmd=${3:-}
check_variant "$variant"
case "$mode" in
selftests) ;;
cmd) [ -n "$cmd" ] || die "cmd mode needs a COMMAND" ;;
*) die "unknown mode '$mode'" ;;
esac
timeout_s=${VM_TIMEOUT:-1200}
case "$variant" in
preempt) cpus=${VM_CPUS:-4} ;;
*) cpus=${VM_CPUS:-2} ;;
esac
build=$CACHE/build/$variant
run=$CACHE/run/$variant
kernel=$build/arch/x86/boot/bzImage
[ -f "$kernel" ] && [ -f "$build/initramfs.cpio" ] ||
	die "$variant kernel not built (make kernel VARIANT=$variant)"

rm -rf "$run"
mkdir -p "$run/overlay/etc" "$run/out"
{
	echo "MODE=$mode"
	echo "ZRAM_MB=${ZRAM_MB:-0}"
	echo "KMEMLEAK=$(grep -qx 'CONFIG_DEBUG_KMEMLEAK=y' "$build/.config" && echo 1 || echo 0)"
	set -f # GUEST_ENV is split into words, never globbed
	for kv in ${GUEST_ENV:-}; do
		[[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:,+-]*$ ]] ||
			die "GUEST_ENV: '$kv' is not NAME=VALUE (plain characters only)"
		echo "export $kv"
	done
	set +f
} > "$run/overlay/etc/harness.conf"
[ "$mode" = cmd ] && printf '%s\n' "$cmd" > "$run/overlay/etc/harness.cmd"
if [ -n "${DIR:-}" ]; then
	[ -d "$DIR" ] || die "DIR=$DIR is not a directory"
	mkdir -p "$run/overlay/host"
	cp -a "$DIR/." "$run/overlay/host/"
fi
"$HARNESS/mkcpio.sh" "$build" "$run/overlay" "$run/overlay.cpio"
cat "$build/initramfs.cpio" "$run/overlay.cpio" > "$run/initrd.cpio"

# Virtio disks, each backed by a fresh sparse file in $run (deleted when the
# guest is done) and found by its serial in the guest (init):
#   mp3prof-swap     DISK_SWAP_MB MiB (default 0: none), made swap
#   mp3prof-scratch  SCRATCH_MB MiB (default 64, 0: none), ext2 mounted at
#                    /var/tmp: file pages whose page cache can be dropped
disks=()
add_disk() { # NAME MIB
	local img=$run/$1.img
	[[ $2 =~ ^[0-9]+$ ]] || die "disk $1: '$2' is not a size in MiB"
	[ "$2" -gt 0 ] || return 0
	[[ $img != *,* ]] || die "no comma allowed in the cache path ($img): QEMU option syntax"
	truncate -s "${2}M" "$img"
	disks+=(-drive "if=none,id=$1,format=raw,cache=unsafe,file=$img"
		-device "virtio-blk-pci,drive=$1,serial=mp3prof-$1")
}
add_disk swap "${DISK_SWAP_MB:-0}"
add_disk scratch "${SCRATCH_MB:-64}"
# pci=noacpi: the first PCI driver to enable its device made ACPI evaluate
# QEMU's _PRT (PCI interrupt routing), which ran into ACPICA's 30 s loop
# timeout under TCG; SeaBIOS's PIRQ table routes INTx instead (virtio-blk
# uses MSI-X anyway).
disk_append=
[ ${#disks[@]} -eq 0 ] || disk_append=pci=noacpi

say "booting $variant guest ($mode, $cpus vCPUs, timeout ${timeout_s}s)"
# tsc=reliable: the vCPUs are separate sockets, so the kernel would distrust
# the TSC and fall back to a slower or (without HPET) 4 ms-coarse clock.
rc=0
timeout --foreground -k 10 "$timeout_s" \
	qemu-system-x86_64 -accel tcg -smp "$cpus,sockets=$cpus" -m "${VM_MEM:-1024}" \
	-nodefaults -display none -no-reboot \
	-kernel "$kernel" -initrd "$run/initrd.cpio" \
	-append "console=ttyS0 panic=-1 no_hash_pointers tsc=reliable $disk_append ${VM_APPEND:-}" \
	-chardev stdio,id=con,signal=off,logfile="$run/console.log" \
	-serial chardev:con \
	-serial file:"$run/results.tar" \
	"${disks[@]}" \
	< /dev/null || rc=$?
rm -f "$run/swap.img" "$run/scratch.img"
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "ERROR: guest timed out after $timeout_s s (VM_TIMEOUT); console log: $run/console.log" >&2
	exit 124
fi
[ $rc -eq 0 ] || die "qemu failed with status $rc"

if ! tar -xf "$run/results.tar" -C "$run/out" 2>/dev/null || [ ! -f "$run/out/dmesg.txt" ]; then
	die "the guest sent no results (crashed before finishing?); console log: $run/console.log"
fi
if [ -n "${OUT:-}" ]; then
	mkdir -p "$OUT"
	cp -a "$run/out/." "$OUT/"
fi
# A guest that did not bring up every vCPU (or fell back to the jiffies
# clocksource) would test something else than asked for.
info=$run/out/guest-info.txt
gcpus=$(sed -n 's/^cpus=//p' "$info" 2>/dev/null || true)
gclock=$(sed -n 's/^clocksource=//p' "$info" 2>/dev/null || true)
say "guest had ${gcpus:-?} CPUs online, clocksource ${gclock:-?}, kernel $(sed -n 's/^version=//p' "$info" 2>/dev/null || true)"
[ "$gcpus" = "$cpus" ] ||
	die "the guest had ${gcpus:-?} CPUs online, not the $cpus it was given (CONFIG_NR_CPUS? MP table?); console log: $run/console.log"
[ "$gclock" != jiffies ] ||
	die "the guest fell back to the jiffies clocksource (no TSC, HPET or PM timer); console log: $run/console.log"
if [ "$mode" = cmd ]; then
	status=$(cat "$run/out/status" 2>/dev/null || echo 1)
	say "command exited with status $status"
	exit "$status"
fi
