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
    ./target/release/lab {{ARGS}}

# Compile the data plane variants into target/bpf/ (cargo does this too).
build-ebpf:
    mkdir -p target/bpf
    for v in CRYPTO COPY NOOP; do \
      clang-19 -O2 -g -target bpf -Wall -Werror -I/usr/include/x86_64-linux-gnu -Iebpf \
        -DDP_VARIANT_$v -c ebpf/crypto_dp.bpf.c -o target/bpf/crypto_dp.${v,,}.bpf.o; \
    done
    ls -l target/bpf

# Run every test (unit, host integration, VM); root for the host and VM tests.
test:
    if cargo nextest --version >/dev/null 2>&1; then \
      cargo nextest run --workspace --no-fail-fast --success-output immediate; \
    else \
      cargo test --workspace --no-fail-fast; \
    fi

# Formatting and lints as CI would want them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
