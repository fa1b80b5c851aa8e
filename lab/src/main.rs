//! `lab`: the command line, and the guest's PID 1 (the same static binary).

use std::process::ExitCode;

fn main() -> ExitCode {
    if lab::is_init() {
        lab::pid1();
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LAB_LOG"))
        .with_writer(std::io::stderr)
        .init();
    lab::install_signal_handlers();
    ExitCode::from(lab::run() as u8)
}
