# Amber's build. `make` builds the C parts and fetches the pinned Deno; `make test` runs every
# test; `make demo` shows the main job on a sample program. Debian packages the build or the
# tests need are installed by `make deps` (run by `make setup`).

CC      ?= gcc
CFLAGS  := -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -Wno-format-truncation
BUILD   := build
DENO    := tools/deno/node_modules/.bin/deno
DENO_RUN := $(DENO) run -A --quiet

COMMON_SRC  := $(wildcard csrc/common/*.c)
PRELOAD_SRC := $(wildcard csrc/preload/*/*.c) $(wildcard csrc/preload/*/*.S)
CONTROL_SRC := $(wildcard csrc/control/*.c)
HEADERS     := $(wildcard csrc/*/*.h) $(wildcard csrc/*/*/*.h)
TEST_PROGS  := $(patsubst tests/progs/%.c,$(BUILD)/tests/%,$(wildcard tests/progs/*.c))
GO_PROGS    := $(patsubst tests/progs/%.go,$(BUILD)/tests/%,$(wildcard tests/progs/*.go))
BENCH_PROGS := $(patsubst bench/progs/%.c,$(BUILD)/bench/%,$(wildcard bench/progs/*.c))

.PHONY: all setup deps deno test demo bench clean check contract sanitize

all: $(BUILD)/libamber.so $(BUILD)/libamber-audit.so $(BUILD)/libamberctl.so $(BUILD)/amber-supervisor \
     $(BUILD)/amber-restorer $(TEST_PROGS) $(BENCH_PROGS) deno $(GO_PROGS) $(BUILD)/amber-contract \
     $(BUILD)/tests/libgopid.so

# The interposition library exports only the wrapped symbols: its version script is made from
# the one list of them in symbols.h.
$(BUILD)/preload.map: csrc/preload/core/symbols.h
	@mkdir -p $(BUILD)
	{ echo '{ global:'; sed -nE 's/^ *X\([^,]+, *([a-z_0-9]+),.*/  \1;/p' $<; echo 'local: *; };'; } > $@

$(BUILD)/libamber.so: $(PRELOAD_SRC) $(COMMON_SRC) $(HEADERS) $(BUILD)/preload.map
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -fPIC -shared -fvisibility=hidden -ftls-model=initial-exec \
	  -fno-stack-protector -Wl,--version-script=$(BUILD)/preload.map \
	  -o $@ $(PRELOAD_SRC) $(COMMON_SRC) -ldl -pthread
	@tls=$$(readelf -lW $@ | awk '$$1 == "TLS" { print $$6 }'); \
	  room=$$(sed -n 's/^#define AMBER_TLS_ROOM //p' csrc/common/tls_room.h); \
	  if [ $$(($$tls + 512 + 8192)) -gt "$$room" ]; then \
	    echo "libamber.so's thread-local data ($$tls) outgrew AMBER_TLS_ROOM in csrc/common/tls_room.h"; \
	    rm -f $@; exit 1; fi

# The audit library the loader runs first (LD_AUDIT), with no libc: the SIGSYS handler until
# Amber's library has its own, and the libraries below the line (csrc/audit/audit.h).
$(BUILD)/libamber-audit.so: $(wildcard csrc/audit/*.c) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
	  -ffreestanding -fno-stack-protector -fno-builtin -fPIC -shared -nostdlib -fvisibility=hidden \
	  -Wl,-z,noexecstack -Wl,-z,defs -o $@ $(wildcard csrc/audit/*.c)

# The control library, loaded by Deno through FFI.
$(BUILD)/libamberctl.so: $(CONTROL_SRC) $(COMMON_SRC) $(HEADERS) csrc/control/exports.map
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -fPIC -shared -fvisibility=hidden \
	  -Wl,--version-script=csrc/control/exports.map -o $@ $(CONTROL_SRC) $(COMMON_SRC) -pthread

$(BUILD)/amber-supervisor: $(wildcard csrc/supervisor/*.c) $(COMMON_SRC) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -o $@ $(wildcard csrc/supervisor/*.c) $(COMMON_SRC) -pthread

# The restorer runs with no libc: static, freestanding, linked far from where programs live.
$(BUILD)/amber-restorer: $(wildcard csrc/restorer/*.c) $(wildcard csrc/restorer/*.S) csrc/common/hash.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
	  -ffreestanding -fno-stack-protector -fno-builtin -fno-pic -no-pie -static -nostdlib \
	  -mgeneral-regs-only -mcmodel=large -Wl,-Ttext-segment=0x100000000000 -Wl,-z,noexecstack \
	  -o $@ $(wildcard csrc/restorer/*.c) $(wildcard csrc/restorer/*.S) csrc/common/hash.c

# The C side of the contract with TypeScript: prints the shared constants and layouts as JSON,
# which tools/contract.ts turns into ffi/contract.ts (`make contract`; `make test` checks it).
$(BUILD)/amber-contract: tools/contract/contract.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -o $@ $<

contract: $(BUILD)/amber-contract deno
	$(DENO_RUN) tools/contract.ts

# The C tests under sanitizers, in a build directory of their own: the control library with
# UBSan (ASan would have to be preloaded into Deno itself), the supervisor with ASan and UBSan.
# The interposition library and the restorer cannot take them (they run inside the program and
# without libc): the ones of the ordinary build are linked in. Any report fails the run.
SAN_BUILD := $(BUILD)/sanitize
SAN_FLAGS := -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_ENV   := AMBER_BUILD_DIR=$(abspath $(SAN_BUILD)) \
  UBSAN_OPTIONS=print_stacktrace=1:log_path=$(abspath $(SAN_BUILD))/log/ubsan \
  ASAN_OPTIONS=detect_leaks=0:log_path=$(abspath $(SAN_BUILD))/log/asan

$(SAN_BUILD)/libamberctl.so: $(CONTROL_SRC) $(COMMON_SRC) $(HEADERS) csrc/control/exports.map
	@mkdir -p $(SAN_BUILD)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -fsanitize=undefined -fPIC -shared -fvisibility=hidden \
	  -Wl,--version-script=csrc/control/exports.map -o $@ $(CONTROL_SRC) $(COMMON_SRC) -pthread

$(SAN_BUILD)/amber-supervisor: $(wildcard csrc/supervisor/*.c) $(COMMON_SRC) $(HEADERS)
	@mkdir -p $(SAN_BUILD)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -fsanitize=address,undefined -o $@ \
	  $(wildcard csrc/supervisor/*.c) $(COMMON_SRC) -pthread

sanitize: all $(SAN_BUILD)/libamberctl.so $(SAN_BUILD)/amber-supervisor
	ln -sf $(abspath $(BUILD))/libamber.so $(abspath $(BUILD))/amber-restorer $(SAN_BUILD)/
	rm -rf $(SAN_BUILD)/log && mkdir -p $(SAN_BUILD)/log
	$(SAN_ENV) $(DENO) test -A --quiet tests/image_fuzz_test.ts tests/snapshot_test.ts \
	  tests/multiprocess_test.ts tests/sysv_test.ts
	@if [ -n "$$(ls $(SAN_BUILD)/log)" ]; then cat $(SAN_BUILD)/log/*; exit 1; fi

# The C test programs take Amber's own warnings, as errors (CFLAGS), at -O1.
# A program that calls shared libraries which make raw system calls (lib/raw_lib.c, built twice).
$(BUILD)/tests/libraw_%.so: tests/progs/lib/raw_lib.c tests/progs/raw_call.h
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -fPIC -shared -DLIB_FN=$*_calls -o $@ $<

$(BUILD)/tests/shared_lib_calls: tests/progs/shared_lib_calls.c $(BUILD)/tests/libraw_linked.so \
                                 $(BUILD)/tests/libraw_dlopened.so $(wildcard tests/progs/*.h)
	$(CC) $(CFLAGS) -o $@ $< -L$(BUILD)/tests -lraw_linked -Wl,-rpath,'$$ORIGIN'

$(BUILD)/tests/%: tests/progs/%.c $(wildcard tests/progs/*.h) $(wildcard csrc/common/*.h)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 -o $@ $< -pthread -lm -lrt

# A Go library for python3 to load (py_go_lib.py).
$(BUILD)/tests/libgopid.so: tests/progs/lib/go_pid_lib.go
	@mkdir -p $(BUILD)/tests
	GOCACHE=$(abspath $(BUILD))/go-cache GO111MODULE=off CGO_ENABLED=1 go build -buildmode=c-shared -o $@ $<

# Go test programs, with cgo: a Go program runs under Amber's library only dynamically linked.
$(BUILD)/tests/%: tests/progs/%.go
	@mkdir -p $(BUILD)/tests
	GOCACHE=$(abspath $(BUILD))/go-cache GO111MODULE=off CGO_ENABLED=1 go build -o $@ $<

$(BUILD)/bench/%: bench/progs/%.c $(wildcard bench/progs/*.h) $(wildcard csrc/common/*.h)
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 -g -Wall -std=gnu11 -D_GNU_SOURCE -o $@ $< -pthread

deno: $(DENO)
$(DENO): tools/deno/package.json
	cd tools/deno && npm install --no-audit --no-fund --loglevel=error
	@touch $@

# `make install [PREFIX=DIR]`: the `amber` command in DIR/bin (default ~/.local/bin), a launcher
# that runs this checkout's cli.ts with the pinned Deno (tools/install.sh).
.PHONY: install
install: $(BUILD)/libamber.so $(BUILD)/libamber-audit.so $(BUILD)/libamberctl.so $(BUILD)/amber-supervisor $(BUILD)/amber-restorer deno
	sh tools/install.sh $(if $(PREFIX),--root $(PREFIX))

# Debian packages the tests need, installed when missing (as root, as CI runs): python3 for the
# interpreter test, libc6-dev's static libc for the static-binary test, iproute2 for the network
# namespaces of the multi-computer tests, redis-server, nginx and postgresql for the real-server
# tests, Go for the Go test program, a JDK for the JVM test, openssl for the agent's TLS test, tmux,
# and (through tools/install-etcd.sh) etcd and curl for the multi-computer registry. RUNLEVEL=1: the packages' services are not started.
deps:
	@missing=""; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing="$$missing libc6-dev"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || missing="$$missing nginx-core"; \
	[ -x /usr/lib/postgresql/15/bin/postgres ] || missing="$$missing postgresql"; \
	command -v go >/dev/null || missing="$$missing golang-go"; \
	command -v javac >/dev/null || missing="$$missing default-jdk-headless"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	if [ -n "$$missing" ] && ! command -v apt-get >/dev/null; then \
	  echo "Missing for the tests (Debian package names; yours may differ):$$missing" >&2; \
	  echo "apt-get was not found: install them with your package manager" >&2; exit 1; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	sh tools/install-etcd.sh

setup: deps all
	$(DENO) install --frozen --quiet --entrypoint cli.ts mod.ts

demo: setup
	bash examples/demo.sh

test: setup
	$(DENO_RUN) tools/contract.ts --check
	$(DENO_RUN) tools/circles.ts
	$(DENO) check --quiet examples/ bench/
	$(DENO) doc --lint mod.ts
	$(DENO) lint --quiet
	$(DENO) fmt --check --quiet
	$(DENO) test -A --quiet --parallel --doc tests/ mod.ts src/
	$(MAKE) --no-print-directory sanitize

bench: setup
	$(DENO_RUN) bench/translation_cost.ts
	$(DENO_RUN) bench/seccomp_cost.ts
	$(DENO_RUN) bench/library_load.ts
	$(DENO_RUN) bench/snapshot_restore.ts
	$(DENO_RUN) bench/shared_memory.ts
	$(DENO_RUN) bench/processes.ts
	$(DENO_RUN) bench/migration.ts
	$(DENO_RUN) bench/restore_check.ts
	$(DENO_RUN) bench/zero_pages.ts
	$(DENO_RUN) bench/cli_start.ts
	$(DENO_RUN) bench/cow_freeze.ts 256 1024
	$(DENO_RUN) bench/cow_freeze.ts --mode=pre-copy 8192
	$(DENO_RUN) bench/dirty_pages.ts
	$(DENO_RUN) bench/lazy_restore.ts 256 1024
	$(DENO_RUN) bench/fault_check.ts
	$(DENO_RUN) bench/fork_image.ts
	$(DENO_RUN) bench/issue_targets.ts 256 1024

check: setup
	$(DENO) check cli.ts mod.ts tests/ bench/ examples/
	$(DENO) lint
	$(DENO) fmt --check

clean:
	rm -rf $(BUILD)
