# mp3prof top-level Makefile: thin wrappers around tooling/ scripts.
# Run "make help" for the targets.  Everything built goes to the cache
# directory MP3PROF_CACHE (default ~/.cache/mp3prof).

SHELL := /bin/bash
H := tooling/harness
# DIR, OUT and the other variables reach the scripts through the environment
# (make exports command-line variables).  CMD is passed unexpanded, so
# CMD='echo $(uname -r)' means what it says.

.PHONY: help deps need-deps kernel check vm demo bench soak patches clean-cache

help:
	@echo 'mp3prof targets:'
	@echo '  make deps         apt-get install the packages in $(H)/deps.txt'
	@echo '  make kernel       apply the series to Linux 6.12 and build it with the'
	@echo '                    selftests and the guest initramfs [VARIANT=debug|release|preempt]'
	@echo '  make check        static checks, debug kernel build, boot in QEMU, run the'
	@echo '                    mp3prof kselftests, check dmesg/kmemleak/rmmod;'
	@echo '                    ends with "N passed, N failed", fails if any failed;'
	@echo '                    VARIANT=preempt: on the PREEMPT, HZ=100, 4-vCPU kernel'
	@echo '  make vm CMD=...   boot a guest (default VARIANT=release), run CMD with bash in'
	@echo '                    /host; DIR=hostdir is copied to /host first, the guest'"'"'s'
	@echo '                    /out is copied to OUT=hostdir; exits with CMD'"'"'s status'
	@echo '  make demo         run the demo (tooling/demo/run.sh)'
	@echo '  make bench        run the benchmarks (tooling/bench/run.sh)'
	@echo '  make soak         long robustness run under the debug and preempt kernels'
	@echo '                    (tooling/soak/run.sh; SOAK_VARIANTS="debug preempt")'
	@echo '  make patches      regenerate patches/ and series (tooling/series/gen.sh)'
	@echo '  make clean-cache  delete the cache directory'
	@echo 'Variables: MP3PROF_CACHE (cache dir), KDIR (use this kernel tree, series'
	@echo 'already applied), MP3PROF_SERIES (series file to apply), VM_TIMEOUT (s),'
	@echo 'VM_MEM (MiB), VM_CPUS (vCPUs; 2, preempt 4), ZRAM_MB (zram swap in the'
	@echo 'guest, MiB).  Variants: debug (make check), release (demo, bench), preempt.'

deps:
	$(H)/deps.sh --all

# Every target that builds or boots first installs the packages it lacks.
need-deps:
	@$(H)/deps.sh

kernel: need-deps
	$(H)/vm.sh $(or $(VARIANT),debug)

check: need-deps
	$(H)/check.sh

vm: need-deps
	@test -n "$$CMD" || { echo 'usage: make vm CMD=... [DIR=hostdir] [OUT=hostdir] [VARIANT=release|debug|preempt]' >&2; exit 2; }
	$(H)/vm.sh $(or $(VARIANT),release) '$(subst ','\'',$(value CMD))'

demo bench soak: need-deps
	@test -x tooling/$@/run.sh || { echo 'make $@: not implemented yet (tooling/$@/run.sh missing)' >&2; exit 1; }
	tooling/$@/run.sh

patches: need-deps
	@test -x tooling/series/gen.sh || { echo 'make patches: tooling/series/gen.sh missing' >&2; exit 1; }
	tooling/series/gen.sh

clean-cache:
	. $(H)/lib.sh && echo "removing $$CACHE" && rm -rf -- "$$CACHE"
