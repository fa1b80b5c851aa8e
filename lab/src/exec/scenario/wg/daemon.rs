//! One end's WireGuard handshake in userspace: a thread in the end's
//! namespace on a UDP socket at its listen port, the port the data plane
//! passes handshake messages to. It answers initiations, initiates when
//! asked (a `handshake` step), when egress drops for want of a session,
//! and when the session is due for a rekey, and installs each session's
//! keys and indexes into the data plane's keypair slots.

use std::net::{SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use super::log::{SessionKeys, WgLog};
use crate::dataplane::format::wireguard::abi::{WG_F_CONFIRMED, WG_F_SKIP_FIRST};
use crate::dataplane::format::wireguard::handshake::{
    self, Cookie, Identity, Kind, PeerKeys, PendingInitiation, Responder, Session, Tai64n,
};
use crate::dataplane::format::wireguard::provision::WgControl;
use crate::dataplane::format::wireguard::reference;
use crate::domain::Side;
use crate::sys::netns::Netns;

/// REKEY_TIMEOUT: an unanswered initiation is sent again after this.
const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the thread looks at the data plane's state.
const TICK: Duration = Duration::from_millis(20);
/// Keypair slots of the data plane (`WG_KEYPAIRS`).
const SLOTS: usize = 3;

/// What one end's handshake needs.
pub(crate) struct Config {
    /// Which end.
    pub(crate) side: Side,
    /// Its static private key.
    pub(crate) private_key: [u8; 32],
    /// The peer's static public key and the preshared key.
    pub(crate) peer: PeerKeys,
    /// Its port (bound on every address of the namespace).
    pub(crate) port: u16,
    /// Where the peer listens.
    pub(crate) endpoint: SocketAddrV4,
    /// REKEY_AFTER_TIME.
    pub(crate) rekey_after: Duration,
    /// REKEY_AFTER_MESSAGES.
    pub(crate) rekey_after_messages: u64,
    /// The data plane's keypairs.
    pub(crate) control: WgControl,
    /// Where sessions and key log lines go.
    pub(crate) log: Arc<Mutex<WgLog>>,
    /// When the run started (session times are relative to it).
    pub(crate) t0: Instant,
}

/// A request to the thread: initiate, and report the session's local
/// index once the response came (or why not).
type Initiate = Sender<Result<u32, String>>;

/// The running thread of one end.
pub(crate) struct Daemon {
    tx: Sender<Initiate>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Daemon {
    /// Binds the port in `ns` and starts the thread.
    pub(crate) fn start(ns: &Netns, cfg: Config) -> Result<Self> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let name = format!("wg-{}", cfg.side.as_str());
        let port = cfg.port;
        let (_, handle) = ns
            .spawn_ready(&name, move || {
                let sock = UdpSocket::bind(("0.0.0.0", port))?;
                sock.set_read_timeout(Some(TICK))?;
                Ok(((), move || State::new(cfg, sock).run(&rx, &flag)))
            })
            .with_context(|| format!("binding the WireGuard handshake to UDP port {port}"))?;
        Ok(Self {
            tx,
            stop,
            handle: Some(handle),
        })
    }

    /// Initiates a handshake and waits up to `timeout` for the session.
    pub(crate) fn handshake(&self, timeout: Duration) -> Result<u32> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(tx)
            .map_err(|_| anyhow!("the handshake thread has stopped"))?;
        match rx.recv_timeout(timeout) {
            Ok(r) => r.map_err(|e| anyhow!(e)),
            Err(_) => Err(anyhow!(
                "no handshake response within {} ms",
                timeout.as_millis()
            )),
        }
    }

    /// Stops the thread (closing the socket) and waits for it.
    pub(crate) fn stop(mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow!("handshake thread panicked"))?
                .context("handshake thread"),
            None => Ok(()),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// An initiation in flight.
struct Pending {
    state: PendingInitiation,
    sent: Instant,
    waiters: Vec<Initiate>,
}

/// A slot's session, as this end installed it.
#[derive(Clone, Copy)]
struct Installed {
    at: Instant,
    initiator: bool,
}

struct State {
    cfg: Config,
    sock: UdpSocket,
    me: Identity,
    responder: Responder,
    pending: Option<Pending>,
    cookie: Option<Cookie>,
    slots: [Option<Installed>; SLOTS],
    nokey_seen: u64,
}

impl State {
    fn new(cfg: Config, sock: UdpSocket) -> Self {
        let me = Identity {
            private: cfg.private_key,
        };
        let responder = Responder::new(&me, &cfg.peer);
        Self {
            cfg,
            sock,
            me,
            responder,
            pending: None,
            cookie: None,
            slots: [None; SLOTS],
            nokey_seen: 0,
        }
    }

    fn run(mut self, rx: &Receiver<Initiate>, stop: &AtomicBool) -> std::io::Result<()> {
        let mut buf = [0u8; 2048];
        self.nokey_seen = self.cfg.control.nokey().unwrap_or(0);
        while !stop.load(Ordering::SeqCst) {
            while let Ok(w) = rx.try_recv() {
                // One in flight (a rekey's, say) answers this request too:
                // a second initiation right behind it would meet the
                // peer's flood limit and leave the first unanswered.
                match &mut self.pending {
                    Some(p) => p.waiters.push(w),
                    None => self.initiate(vec![w]),
                }
            }
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => self.message(&buf[..n], from),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
            self.timers();
        }
        Ok(())
    }

    fn note(&self, what: &str) {
        if let Ok(mut l) = self.cfg.log.lock() {
            l.event(self.cfg.t0, self.cfg.side, what);
        }
    }

    /// Sends a new initiation (also a retransmission, with a new index);
    /// `waiters` and those of the one in flight hear of the session.
    fn initiate(&mut self, mut waiters: Vec<Initiate>) {
        waiters.extend(self.pending.take().map(|p| p.waiters).unwrap_or_default());
        let index = random_index();
        let made = handshake::initiate(
            &self.me,
            &self.cfg.peer,
            index,
            Tai64n::now(),
            self.cookie.as_ref(),
        );
        let (state, msg) = match made {
            Ok(m) => m,
            Err(e) => {
                for w in waiters {
                    let _ = w.send(Err(format!("making the initiation: {e}")));
                }
                return;
            }
        };
        if let Err(e) = self.sock.send_to(&msg, self.cfg.endpoint) {
            for w in waiters {
                let _ = w.send(Err(format!("sending the initiation: {e}")));
            }
            return;
        }
        self.note(&format!("initiation sent, sender index {index:#010x}"));
        self.pending = Some(Pending {
            state,
            sent: Instant::now(),
            waiters,
        });
    }

    fn message(&mut self, msg: &[u8], from: std::net::SocketAddr) {
        let r = match Kind::of(msg) {
            Some(Kind::Initiation) => self.initiation(msg, from),
            Some(Kind::Response) => self.response(msg),
            Some(Kind::CookieReply) => self.cookie_reply(msg),
            None => Err(format!(
                "a message of type {:?} reached the socket",
                msg.first()
            )),
        };
        if let Err(e) = r {
            self.note(&format!("refused a handshake message: {e}"));
        }
    }

    /// The peer initiates: answer, install the session unconfirmed (the
    /// data plane sends with it once the peer's first message under it
    /// arrives).
    fn initiation(&mut self, msg: &[u8], from: std::net::SocketAddr) -> Result<(), String> {
        let index = random_index();
        let (session, reply) = self
            .responder
            .respond(msg, index)
            .map_err(|e| e.to_string())?;
        let eph = self.responder.last_ephemeral_private().unwrap_or_default();
        self.install(&session, 0, eph)?;
        self.sock
            .send_to(&reply, from)
            .map_err(|e| format!("sending the response: {e}"))?;
        self.note(&format!(
            "answered an initiation: session {index:#010x} (peer {:#010x}), unconfirmed",
            session.remote_index
        ));
        Ok(())
    }

    /// Our initiation answered: a keepalive (counter 0, sealed here)
    /// confirms the session to the peer, then egress sends with it from
    /// counter 1, so the wire shows the counters in order.
    fn response(&mut self, msg: &[u8]) -> Result<(), String> {
        let Some(p) = self.pending.take() else {
            return Err("a response without an initiation in flight".into());
        };
        if msg.get(8..12) != Some(&p.state.local_index().to_le_bytes()[..]) {
            // Not to our initiation in flight: keep waiting for that one.
            self.pending = Some(p);
            return Err("a response to another sender index".into());
        }
        let eph = p.state.ephemeral_private();
        let session = match p.state.consume_response(msg) {
            Ok(s) => s,
            Err(e) => {
                // Forged or damaged: start over with a new initiation.
                self.initiate(p.waiters);
                return Err(e.to_string());
            }
        };
        let slot = self.install(&session, WG_F_CONFIRMED | WG_F_SKIP_FIRST, eph)?;
        let keepalive = reference::seal(&session.send_key, session.remote_index, 0, &[]);
        self.sock
            .send_to(&keepalive, self.cfg.endpoint)
            .map_err(|e| format!("sending the keepalive: {e}"))?;
        self.cfg
            .control
            .send(slot)
            .map_err(|e| format!("sending with slot {slot}: {e}"))?;
        self.note(&format!(
            "session {:#010x} (peer {:#010x}) established as initiator, keepalive sent",
            session.local_index, session.remote_index
        ));
        for w in p.waiters {
            let _ = w.send(Ok(session.local_index));
        }
        Ok(())
    }

    /// The peer is under load: a reply to our initiation in flight
    /// (initiate again, with mac2), else to our last response (the next
    /// responses carry mac2).
    fn cookie_reply(&mut self, msg: &[u8]) -> Result<(), String> {
        let Some(p) = &self.pending else {
            self.responder
                .consume_cookie_reply(msg)
                .map_err(|e| e.to_string())?;
            self.note("cookie reply to our response: the peer is under load");
            return Ok(());
        };
        let cookie = p
            .state
            .consume_cookie_reply(msg)
            .map_err(|e| e.to_string())?;
        self.cookie = Some(cookie);
        self.note("cookie reply: the peer is under load; initiating again with mac2");
        self.initiate(Vec::new());
        Ok(())
    }

    /// Puts `s` into a slot: an empty one, else the oldest that is not
    /// the one egress sends with; logs it.
    fn install(&mut self, s: &Session, flags: u32, eph: [u8; 32]) -> Result<u32, String> {
        let sending = self.cfg.control.send_slot().map_err(|e| e.to_string())?;
        let slot = (0..SLOTS)
            .filter(|&i| Some(i as u32) != sending)
            .min_by_key(|&i| self.slots[i].map(|x| x.at))
            .unwrap_or(0);
        self.cfg
            .control
            .install(
                slot as u32,
                s.local_index,
                s.remote_index,
                &s.send_key,
                &s.recv_key,
                flags,
            )
            .map_err(|e| format!("installing the session into slot {slot}: {e}"))?;
        self.slots[slot] = Some(Installed {
            at: Instant::now(),
            initiator: s.initiator,
        });
        let lines = handshake::handshake_lines(&self.me, &self.cfg.peer, &eph);
        if let Ok(mut l) = self.cfg.log.lock() {
            l.session(SessionKeys::from(s), &lines);
        }
        Ok(slot as u32)
    }

    /// Retransmissions, rekeys and handshakes on demand.
    fn timers(&mut self) {
        if let Some(p) = &self.pending {
            if p.sent.elapsed() >= REKEY_TIMEOUT {
                self.note("no response within REKEY_TIMEOUT: initiating again");
                self.initiate(Vec::new());
            }
            return;
        }
        let nokey = self.cfg.control.nokey().unwrap_or(self.nokey_seen);
        let wanted = nokey > self.nokey_seen;
        self.nokey_seen = nokey;
        let current = self.cfg.control.send_slot().ok().flatten();
        let installed = current.and_then(|s| self.slots.get(s as usize).copied().flatten());
        let why = match (current, installed) {
            (None, _) if wanted => Some("egress dropped for want of a session"),
            (Some(slot), Some(i)) => {
                let sent = (self.cfg.control.keypair(slot)).map_or(0, |k| k.send_counter);
                if i.initiator && i.at.elapsed() >= self.cfg.rekey_after {
                    Some("the session reached REKEY_AFTER_TIME")
                } else if sent >= self.cfg.rekey_after_messages {
                    Some("the session reached REKEY_AFTER_MESSAGES")
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(why) = why {
            self.note(&format!("{why}: initiating"));
            self.initiate(Vec::new());
        }
    }
}

/// A random sender index.
fn random_index() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the kernel's random source");
    u32::from_ne_bytes(b)
}

/// A random private key (clamped by X25519 itself).
pub(crate) fn random_key() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the kernel's random source");
    b
}
