//! The lab's one netlink stack, on the rust-netlink crates: `netlink-sys`
//! sockets, `netlink-packet-core` framing (messages, `NLMSG_ERROR`,
//! `NLMSG_DONE`), `netlink-packet-generic` for generic netlink families,
//! and the protocol crates for the messages (`netlink-packet-xfrm`,
//! `netlink-packet-wireguard`; `rtnetlink` for links, addresses, routes).
//!
//! Two ways through it, both on the calling thread, so both work in the
//! network namespace that thread entered (sockets open on the namespace's
//! thread, never setns on a tokio worker: see `docs/architecture.md`):
//!
//! - [`NlSocket`]: blocking request/reply for xfrm and generic netlink.
//!   They are a handful of requests per namespace, made on the namespace's
//!   own thread, so no runtime is needed. Not netlink-proto's async
//!   connection (what rtnetlink uses): it logs and drops a reply it cannot
//!   decode and leaves the request waiting, where this gives an error; and
//!   it does not turn on the extended ack, whose text names the check the
//!   kernel failed.
//! - [`on_rtnetlink`]: the rtnetlink crate's request builders, on a private
//!   current-thread runtime.
//!
//! A refusal keeps its errno ([`NlError::Refused`]): the callers tell a
//! missing kernel feature (EPROTONOSUPPORT, ENOSYS, ENOENT, EOPNOTSUPP)
//! from a failure.

use std::future::Future;
use std::io;
use std::num::NonZeroI32;

use netlink_packet_core::{
    NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_REQUEST, NetlinkBuffer, NetlinkDeserializable,
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NlasIterator, parse_string,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_sys::protocols::NETLINK_GENERIC;
use netlink_sys::{Socket, SocketAddr};
use nix::errno::Errno;

/// `NLMSGERR_ATTR_MSG`: the extended ack's text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Size of `struct nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;
/// Large enough for one datagram of a dump (the kernel fills at most a
/// page-sized or 32 KiB skb).
const RECV_BUF: usize = 1 << 16;

/// A netlink request that failed, before the caller gives it a meaning.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NlError {
    /// The socket failed.
    #[error("netlink socket: {0}")]
    Io(#[source] io::Error),
    /// The kernel refused: the errno (positive) and the extended ack's
    /// text, if it sent one.
    #[error("{}", refusal(*errno, message))]
    Refused { errno: i32, message: Option<String> },
    /// A reply did not parse.
    #[error("unexpected reply from the kernel: {0}")]
    Garbled(String),
}

/// "Operation not supported (EOPNOTSUPP; kernel: …)".
fn refusal(errno: i32, message: &Option<String>) -> String {
    let e = Errno::from_raw(errno);
    let kernel = message
        .as_ref()
        .map(|m| format!("; kernel: {m}"))
        .unwrap_or_default();
    format!("{} ({e:?}{kernel})", e.desc())
}

impl NlError {
    /// The errno of a kernel refusal.
    pub(crate) fn errno(&self) -> Option<i32> {
        match self {
            Self::Refused { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// A blocking netlink socket in the calling thread's namespace.
pub(crate) struct NlSocket {
    sock: Socket,
    seq: u32,
}

impl NlSocket {
    /// Opens a socket of `protocol` (`NETLINK_XFRM`, `NETLINK_GENERIC`).
    pub(crate) fn open(protocol: isize) -> io::Result<Self> {
        let mut sock = Socket::new(protocol)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // The extended ack names the check that failed; capped acks keep
        // the request out of the error. Older kernels lack both: no harm.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        Ok(Self { sock, seq: 0 })
    }

    /// A generic netlink socket.
    pub(crate) fn generic() -> io::Result<Self> {
        Self::open(NETLINK_GENERIC)
    }

    /// Sends `msg` with `flags` (besides `NLM_F_REQUEST`) and returns its
    /// replies, decoded as `R`, up to the ack or, for a dump,
    /// `NLMSG_DONE`.
    pub(crate) fn request<R: NetlinkDeserializable>(
        &mut self,
        msg: impl NetlinkSerializable,
        flags: u16,
    ) -> Result<Vec<R>, NlError> {
        self.seq = self.seq.wrapping_add(1);
        let mut nl =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg));
        nl.header.flags = NLM_F_REQUEST | flags;
        nl.header.sequence_number = self.seq;
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(NlError::Io)?;
        let mut replies = Vec::new();
        let mut datagram = Vec::with_capacity(RECV_BUF);
        loop {
            datagram.clear();
            // MSG_TRUNC: `n` is the datagram's size even when cut short
            let (n, _) = self
                .sock
                .recv_from(&mut datagram, libc::MSG_TRUNC)
                .map_err(NlError::Io)?;
            if n > datagram.len() {
                return Err(NlError::Garbled(format!(
                    "a {n}-byte datagram was truncated"
                )));
            }
            if take_replies(&datagram, self.seq, &mut replies)? {
                return Ok(replies);
            }
        }
    }

    /// The id the kernel gave generic netlink family `name`
    /// (`CTRL_CMD_GETFAMILY`); a refusal with ENOENT means no such family
    /// (its module is not loaded).
    pub(crate) fn genl_family(&mut self, name: &str) -> Result<u16, NlError> {
        let mut msg = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
        });
        msg.finalize();
        let replies: Vec<GenlMessage<GenlCtrl>> =
            self.request(msg, netlink_packet_core::NLM_F_ACK)?;
        replies
            .iter()
            .flat_map(|r| &r.payload.nlas)
            .find_map(|a| match a {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| NlError::Garbled(format!("no id for family {name:?}")))
    }
}

/// Netlink messages start at 4-byte boundaries.
fn nl_align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// Decodes the messages of one datagram that answer request `seq` into
/// `replies` (others are skipped); true once the request ended (ack, error
/// or end of dump).
fn take_replies<R: NetlinkDeserializable>(
    mut data: &[u8],
    seq: u32,
    replies: &mut Vec<R>,
) -> Result<bool, NlError> {
    let garbled = |e: netlink_packet_core::DecodeError| NlError::Garbled(e.to_string());
    while !data.is_empty() {
        let buf = NetlinkBuffer::new_checked(data).map_err(garbled)?;
        let len = buf.length() as usize;
        if buf.sequence_number() == seq {
            let msg = NetlinkMessage::<R>::deserialize(&data[..len]).map_err(garbled)?;
            let flags = msg.header.flags;
            match msg.payload {
                NetlinkPayload::InnerMessage(m) => replies.push(m),
                NetlinkPayload::Noop => {}
                NetlinkPayload::Error(e) => {
                    return finish(e.code, || ext_ack_text(&e.header, flags));
                }
                NetlinkPayload::Done(d) => {
                    // after a dump's error code come the attributes alone
                    return finish(NonZeroI32::new(d.code), || ack_text(&d.extended_ack, flags));
                }
                NetlinkPayload::Overrun(_) => {
                    return Err(NlError::Garbled("the kernel reported an overrun".into()));
                }
                _ => return Err(NlError::Garbled("an unknown control message".into())),
            }
        }
        data = data.get(nl_align(len)..).unwrap_or_default();
    }
    Ok(false)
}

/// The end of a request: `code` is 0 for success, else the negative errno.
fn finish(
    code: Option<NonZeroI32>,
    text: impl FnOnce() -> Option<String>,
) -> Result<bool, NlError> {
    match code {
        None => Ok(true),
        Some(code) => Err(NlError::Refused {
            errno: code.get().saturating_neg(),
            message: text(),
        }),
    }
}

/// The text of an `NLMSG_ERROR`'s extended ack: after the error code comes
/// the request (only its header when capped), then the attributes.
fn ext_ack_text(rest: &[u8], flags: u16) -> Option<String> {
    let request_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = rest.get(..4)?;
        u32::from_ne_bytes([len[0], len[1], len[2], len[3]]) as usize
    };
    ack_text(rest.get(nl_align(request_len)..)?, flags)
}

/// `NLMSGERR_ATTR_MSG` among extended-ack attributes.
fn ack_text(attrs: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    NlasIterator::new(attrs)
        .map_while(Result::ok)
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .and_then(|nla| parse_string(nla.value()).ok())
        .filter(|s| !s.is_empty())
}

/// Runs an rtnetlink conversation on a private current-thread runtime: the
/// socket opens in the calling thread's namespace, no worker thread is
/// involved. The outer error is the runtime or the socket, the inner one
/// what `f` returns.
pub(crate) fn on_rtnetlink<T, E, F, Fut>(f: F) -> io::Result<Result<T, E>>
where
    F: FnOnce(rtnetlink::Handle) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        let task = tokio::spawn(conn);
        let out = f(handle).await;
        task.abort();
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR};
    use netlink_packet_generic::GenlMessage;

    use super::*;
    use crate::sys::netns::in_fresh_netns;

    /// A netlink message of `kind` with `payload`.
    fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut msg = ((NLMSG_HDRLEN + payload.len()) as u32)
            .to_ne_bytes()
            .to_vec();
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(payload);
        msg
    }

    /// An extended-ack message attribute.
    fn text_attr(text: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        let len = 4 + text.len() + 1;
        attr.extend_from_slice(&(len as u16).to_ne_bytes());
        attr.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        attr.extend_from_slice(text.as_bytes());
        attr.push(0);
        attr.resize(nl_align(attr.len()), 0);
        attr
    }

    /// An `NLMSG_ERROR` with a capped request and a message attribute.
    fn error_datagram(seq: u32, errno: i32, text: &str) -> Vec<u8> {
        let mut payload = (-errno).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0; NLMSG_HDRLEN]);
        payload.extend_from_slice(&text_attr(text));
        message(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, seq, &payload)
    }

    type Replies = Vec<GenlMessage<GenlCtrl>>;

    #[test]
    fn refusals_carry_errno_and_the_extended_ack() {
        let mut replies = Replies::new();
        let d = error_datagram(5, libc::EPROTONOSUPPORT, "Requested type not found");
        match take_replies(&d, 5, &mut replies) {
            Err(NlError::Refused { errno, message }) => {
                assert_eq!(errno, libc::EPROTONOSUPPORT);
                assert_eq!(message.as_deref(), Some("Requested type not found"));
            }
            other => panic!("{other:?}"),
        }
        // another request's error is skipped; garbage is an error, not a panic
        assert!(!take_replies(&d, 6, &mut replies).unwrap());
        assert!(take_replies(&d[..10], 5, &mut replies).is_err());
        let mut short = d.clone();
        short[0] = 200;
        assert!(take_replies(&short, 5, &mut replies).is_err());
    }

    #[test]
    fn a_dump_ends_with_done_and_its_error_code_is_a_refusal() {
        let mut replies = Replies::new();
        let reply = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::NewFamily,
            nlas: vec![GenlCtrlAttrs::FamilyId(0x1d)],
        });
        let mut body = vec![0; netlink_packet_core::Emitable::buffer_len(&reply)];
        netlink_packet_core::Emitable::emit(&reply, &mut body);
        let mut d = message(16, 0, 3, &body);
        d.extend(message(NLMSG_DONE, 0, 3, &0i32.to_ne_bytes()));
        assert!(take_replies(&d, 3, &mut replies).unwrap());
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].payload.nlas, [GenlCtrlAttrs::FamilyId(0x1d)]);
        let mut payload = (-libc::EINTR).to_ne_bytes().to_vec();
        payload.extend(text_attr("dump inconsistent"));
        let done = message(NLMSG_DONE, NLM_F_ACK_TLVS, 4, &payload);
        let e = take_replies(&done, 4, &mut replies).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINTR), "{e}");
        assert!(e.to_string().contains("dump inconsistent"), "{e}");
        // a message body the crate cannot decode is an error, not a panic
        let bad = message(16, 0, 5, &[1]);
        assert!(matches!(
            take_replies(&bad, 5, &mut replies),
            Err(NlError::Garbled(_))
        ));
    }

    /// The controller resolves its own family (a fixed id), so the lookup
    /// runs on any kernel; an unknown family is refused with ENOENT.
    #[test]
    fn kernel_resolves_a_generic_netlink_family() {
        in_fresh_netns(|| {
            let mut genl = NlSocket::generic().unwrap();
            assert_eq!(genl.genl_family("nlctrl").unwrap(), 16);
            let e = genl.genl_family("no-such-family").unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        });
    }

    #[test]
    fn rtnetlink_runs_on_the_calling_thread() {
        in_fresh_netns(|| {
            let links = on_rtnetlink(|h| async move {
                use futures::TryStreamExt;
                h.link().get().execute().try_collect::<Vec<_>>().await
            })
            .unwrap()
            .unwrap();
            // a fresh namespace has only its loopback
            assert_eq!(links.len(), 1, "{links:?}");
        });
    }
}
