//! Watching a VM from its console, the same for QEMU and virtme-ng: every
//! console line goes to `console.log`, guest progress lines are relayed,
//! kernel warnings are kept, and a panic, lockup, timeout or interrupt
//! ends the run. The VM runs in its own process group, so a Ctrl-C on the
//! terminal reaches only `lab`, which then stops the whole group.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::job::phases::{PhaseTime, names};
use crate::output::progress::{self, Event, Progress};
use crate::sys::kmsg::{self, LineKind};
use crate::sys::signals::{self, Interrupted};

/// Console log file name in a run folder.
pub(crate) const CONSOLE_LOG: &str = "console.log";

/// How long the console may go on after a panic or lockup before the VM
/// is stopped (the oops text follows the first line).
const AFTER_FATAL: Duration = Duration::from_secs(2);
/// How long a guest that has sent its result may take to power off before
/// the VM is stopped (a kernel without a power-off method, e.g. booted with
/// `acpi=off`, halts instead and would otherwise run into the time limit).
const AFTER_RESULT: Duration = Duration::from_secs(5);

/// How the VM ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum End {
    /// The VM's process exited by itself (normally: the guest powered off).
    Exited(Option<i32>),
    /// A kernel panic was seen on the console.
    Panic(String),
    /// A lockup or RCU stall was seen on the console.
    Lockup(String),
    /// The time limit passed; the VM was stopped.
    Timeout(Duration),
    /// Nothing at all appeared on the console for this long; stopped.
    Silent(Duration),
    /// The guest sent its result but did not power off within this; stopped.
    NoPowerOff(Duration),
}

/// Which output streams of the VM's process are its console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Streams {
    /// stdout is the console; stderr is the VM program's own messages.
    StdoutOnly,
    /// Both are the console (virtme-ng interleaves them).
    Both,
}

/// What watching the VM found.
#[derive(Debug)]
pub(crate) struct Watched {
    /// How it ended.
    pub(crate) end: End,
    /// Oops/BUG/WARNING lines seen on the console.
    pub(crate) kernel_events: Vec<String>,
    /// The VM program's stderr, when it is not part of the console.
    pub(crate) stderr: String,
    /// Phase lines of the guest, with when each arrived.
    pub(crate) marks: Vec<Mark>,
    /// When the VM's process was seen to end, from its start.
    pub(crate) ended_at: Duration,
}

/// A phase line of the guest's console and its arrival time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    /// The phase.
    pub(crate) phase: PhaseTime,
    /// When its line arrived, from the VM's start.
    pub(crate) at: Duration,
}

/// Starts `cmd` in its own process group, killed if `lab` dies, with its
/// output piped.
fn spawn(mut cmd: Command) -> Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl(2) is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.spawn()
        .with_context(|| format!("starting {program} (is it installed?)"))
}

/// Copies lines of `pipe` to the log and classifies them.
fn reader(
    pipe: Box<dyn Read + Send>,
    log: Arc<Mutex<std::fs::File>>,
    tx: mpsc::Sender<(String, Instant)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(pipe);
        let mut buf = Vec::new();
        while r.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let _ = log.lock().map(|mut f| f.write_all(&buf));
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            let _ = tx.send((line, Instant::now()));
            buf.clear();
        }
    })
}

/// Console lines as they arrive: relays progress, keeps warnings, notes
/// the first fatal line.
struct Lines<'a> {
    progress: &'a dyn Progress,
    started: Instant,
    events: Vec<String>,
    marks: Vec<Mark>,
    fatal: Option<(End, Instant)>,
    seen: bool,
}

impl Lines<'_> {
    fn line(&mut self, (line, arrived): (String, Instant)) {
        self.seen = true;
        if let Some(e) = progress::decode(&line) {
            if let Event::Phase { name, ms } = &e {
                self.marks.push(Mark {
                    phase: PhaseTime {
                        phase: name.clone(),
                        ms: *ms,
                    },
                    at: arrived.saturating_duration_since(self.started),
                });
            }
            self.progress.emit(e);
            return;
        }
        match kmsg::classify(&line) {
            LineKind::Panic if self.fatal.is_none() => {
                self.fatal = Some((End::Panic(line), Instant::now()))
            }
            LineKind::Lockup if self.fatal.is_none() => {
                self.fatal = Some((End::Lockup(line), Instant::now()))
            }
            LineKind::Warning => self.events.push(line),
            _ => {}
        }
    }
}

/// The time limits of a watch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Wall-clock limit of the whole run.
    pub(crate) timeout: Duration,
    /// Limit for the first console line.
    pub(crate) silence: Duration,
}

/// Runs `cmd` until the VM ends, writing its console to `console_log`.
pub(crate) fn run(
    cmd: Command,
    streams: Streams,
    console_log: &Path,
    limits: Limits,
    progress: &dyn Progress,
) -> Result<Watched> {
    let log = std::fs::File::create(console_log)
        .with_context(|| format!("creating {}", console_log.display()))?;
    let log = Arc::new(Mutex::new(log));
    let started = Instant::now();
    let mut child = spawn(cmd)?;
    let (tx, rx) = mpsc::channel::<(String, Instant)>();
    let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped stdout"));
    let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped stderr"));
    let mut readers = vec![reader(stdout, log.clone(), tx.clone())];
    let side_stderr = match streams {
        Streams::Both => {
            readers.push(reader(stderr, log.clone(), tx.clone()));
            None
        }
        Streams::StdoutOnly => Some(std::thread::spawn(move || {
            let mut s = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut s);
            s
        })),
    };
    drop(tx);
    let mut lines = Lines {
        progress,
        started,
        events: Vec::new(),
        marks: Vec::new(),
        fatal: None,
        seen: false,
    };
    let end = wait(&mut child, &rx, &mut lines, limits);
    let ended_at = started.elapsed();
    for r in readers {
        let _ = r.join();
    }
    for line in rx.try_iter() {
        lines.line(line);
    }
    let _ = log.lock().map(|mut f| f.flush());
    let end = end?;
    Ok(Watched {
        end,
        kernel_events: lines.events,
        stderr: side_stderr.and_then(|h| h.join().ok()).unwrap_or_default(),
        marks: lines.marks,
        ended_at,
    })
}

/// Polls the VM until it exits, a fatal line was seen (plus a grace
/// period), the time limit passes or `lab` is interrupted.
fn wait(
    child: &mut Child,
    rx: &mpsc::Receiver<(String, Instant)>,
    lines: &mut Lines,
    limits: Limits,
) -> Result<End> {
    let t0 = Instant::now();
    loop {
        while let Ok(line) = rx.try_recv() {
            lines.line(line);
        }
        if let Some(status) = child.try_wait()? {
            // The VM program may leave helpers (virtiofsd) in its group.
            stop(child);
            return Ok(match lines.fatal.take() {
                Some((f, _)) => f,
                None => End::Exited(status.code()),
            });
        }
        if signals::interrupted() {
            stop(child);
            return Err(Interrupted.into());
        }
        if let Some((_, at)) = &lines.fatal
            && at.elapsed() > AFTER_FATAL
        {
            stop(child);
            return Ok(lines.fatal.take().expect("checked").0);
        }
        if let Some(m) = lines.marks.iter().find(|m| m.phase.phase == names::RESULT)
            && t0.elapsed() > m.at + AFTER_RESULT
        {
            lines.progress.note(&format!(
                "the guest sent its result but did not power off within {} s: stopping the VM",
                AFTER_RESULT.as_secs()
            ));
            stop(child);
            return Ok(End::NoPowerOff(AFTER_RESULT));
        }
        if !lines.seen && limits.silence < limits.timeout && t0.elapsed() > limits.silence {
            stop(child);
            return Ok(End::Silent(limits.silence));
        }
        if t0.elapsed() > limits.timeout {
            stop(child);
            return Ok(End::Timeout(limits.timeout));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops the VM's process group: SIGTERM, a moment, then SIGKILL.
fn stop(child: &mut Child) {
    let group = Pid::from_raw(-(child.id() as i32));
    if child.try_wait().ok().flatten().is_none() {
        let _ = kill(group, Signal::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = kill(group, Signal::SIGKILL);
    let _ = child.wait();
}

/// The last `n` lines of a log file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Why a VM run gave no usable result, in words (`None`: it did).
/// `program` names the VM program (`QEMU`, `vng`).
pub(crate) fn failure(
    w: &Watched,
    program: &str,
    result: &Result<crate::job::JobResult>,
    console_log: &Path,
) -> Option<String> {
    let last = || tail(console_log, 8);
    match (&w.end, result) {
        (End::Panic(line), _) => Some(format!("kernel panic: {line}")),
        (End::Lockup(line), _) => Some(format!("kernel lockup: {line}")),
        (End::Timeout(t), _) => Some(format!(
            "guest timed out after {} s; {program} killed (console.log kept). Last console lines:\n{}",
            t.as_secs(),
            last()
        )),
        (End::Silent(t), _) => Some(format!(
            "no console output within {} s: the kernel did not start (a damaged or wrong image?); {program} stopped",
            t.as_secs()
        )),
        (End::Exited(code), Err(e)) => {
            let status = code.map_or("killed by a signal".to_string(), |c| format!("status {c}"));
            let stderr = if w.stderr.trim().is_empty() {
                String::new()
            } else {
                format!("\n{program} stderr: {}", w.stderr.trim())
            };
            Some(format!(
                "{program} exited ({status}) without a usable result: {e:#}{stderr}\nLast console lines:\n{}",
                last()
            ))
        }
        (End::NoPowerOff(t), Err(e)) => Some(format!(
            "the guest announced its result, then did not power off within {} s, and the result is not usable: {e:#}",
            t.as_secs()
        )),
        (End::Exited(_) | End::NoPowerOff(_), Ok(_)) => None,
    }
}
