//! The kernel's WireGuard, configured over generic netlink (the `wireguard`
//! family) for the bench's WireGuard variant. No `wg` binary: the guests
//! have none. The link itself is created with rtnetlink.
//!
//! Every function works in the network namespace of the calling thread (the
//! sockets open there) and blocks, through the lab's one netlink stack
//! ([`crate::sys::netlink`]): generic netlink on a blocking socket,
//! rtnetlink on a private current-thread runtime. In a guest the
//! `wireguard` module must be loaded first (no modprobe).

#![allow(dead_code, reason = "called by the bench steps that are wired next")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP};
use netlink_packet_generic::{GenlFamily, GenlMessage};
use netlink_packet_wireguard::{
    WireguardAddressFamily, WireguardAllowedIp, WireguardAllowedIpAttr, WireguardAttribute,
    WireguardCmd, WireguardDeviceFlags, WireguardMessage, WireguardPeer, WireguardPeerAttribute,
    WireguardPeerFlags,
};
use nix::errno::Errno;
use rtnetlink::{Handle, LinkUnspec, LinkWireguard};

use super::netlink::{NlError, NlSocket};
use super::request_error::{self, RequestError};
use crate::domain::Unsupported;

/// The one peer of a WireGuard interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WgPeer {
    /// The peer's public key.
    pub(crate) public_key: [u8; 32],
    /// Where the peer listens.
    pub(crate) endpoint: SocketAddrV4,
    /// Inner addresses routed to and accepted from the peer (address, prefix).
    pub(crate) allowed_ips: Vec<(Ipv4Addr, u8)>,
    /// The preshared key (all zeros: none).
    pub(crate) psk: [u8; 32],
}

/// Traffic counters of an interface's peers (summed over peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WgStats {
    /// Bytes of WireGuard messages received from the peers.
    pub(crate) rx_bytes: u64,
    /// Bytes of WireGuard messages sent to the peers.
    pub(crate) tx_bytes: u64,
    /// The latest handshake, if any happened.
    pub(crate) last_handshake: Option<SystemTime>,
}

/// Creates interface `name` (kind "wireguard") with MTU `mtu`, configures
/// `private_key`, `listen_port` and `peer`, adds `addr/prefix` and sets it
/// up. Returns its ifindex. On failure a half-configured link may remain:
/// the lab's namespaces are thrown away whole.
pub(crate) fn create(
    name: &str,
    private_key: [u8; 32],
    listen_port: u16,
    peer: &WgPeer,
    addr: Ipv4Addr,
    prefix: u8,
    mtu: u32,
) -> Result<u32, RequestError> {
    let what = format!("creating WireGuard interface {name}");
    let mut genl = open_genl(&what)?;
    // First, so a kernel without WireGuard gives the clear error.
    let family = family_id(&mut genl, &what)?;
    let index = on_rtnetlink(&what, |h| add_link(h, name.to_string(), mtu))?;
    let msg = set_device(index, private_key, listen_port, peer);
    request(&mut genl, family, msg, NLM_F_ACK, &what)?;
    on_rtnetlink(&what, |h| address_and_up(h, index, addr, prefix))?;
    Ok(index)
}

/// Deletes interface `name` (its routes and addresses go with it).
pub(crate) fn delete(name: &str) -> Result<(), RequestError> {
    let what = format!("deleting WireGuard interface {name}");
    let name = name.to_string();
    on_rtnetlink(&what, |h| async move {
        let mut links = h.link().get().match_name(name).execute();
        match links.try_next().await? {
            Some(link) => h.link().del(link.header.index).execute().await,
            None => Ok(()),
        }
    })
}

/// The public key of `private_key` (X25519 with the base point; the key is
/// clamped as the kernel clamps it).
pub(crate) fn public_key(private_key: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*private_key, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// A fixed private key for benches and tests (not secret: derived from
/// `tag`, clamped).
pub(crate) fn test_private_key(tag: u8) -> [u8; 32] {
    let mut key: [u8; 32] = std::array::from_fn(|i| tag ^ (i as u8).wrapping_mul(37));
    key[0] &= 248;
    key[31] = (key[31] & 127) | 64;
    key
}

/// Byte counters and last handshake of interface `name`'s peers
/// (`WG_CMD_GET_DEVICE`, a dump).
pub(crate) fn peer_stats(name: &str) -> Result<WgStats, RequestError> {
    let what = format!("reading WireGuard interface {name}");
    let mut genl = open_genl(&what)?;
    let family = family_id(&mut genl, &what)?;
    let msg = WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::IfName(name.to_string())],
    };
    let replies = request(&mut genl, family, msg, NLM_F_DUMP, &what)?;
    let mut stats = WgStats::default();
    for reply in replies.iter().filter(|r| r.resolved_family_id() == family) {
        add_peer_counters(&mut stats, &reply.payload.attributes);
    }
    Ok(stats)
}

fn add_peer_counters(stats: &mut WgStats, attrs: &[WireguardAttribute]) {
    let peers = attrs.iter().filter_map(|a| match a {
        WireguardAttribute::Peers(p) => Some(p),
        _ => None,
    });
    for attr in peers.flatten().flat_map(|p| p.0.iter()) {
        match attr {
            WireguardPeerAttribute::RxBytes(n) => stats.rx_bytes += n,
            WireguardPeerAttribute::TxBytes(n) => stats.tx_bytes += n,
            WireguardPeerAttribute::LastHandshake(t) if t.seconds > 0 => {
                let at = SystemTime::UNIX_EPOCH
                    + Duration::from_secs(t.seconds.unsigned_abs())
                    + Duration::from_nanos(t.nano_seconds.clamp(0, 999_999_999).unsigned_abs());
                stats.last_handshake = stats.last_handshake.max(Some(at));
            }
            _ => {}
        }
    }
}

/// `WG_CMD_SET_DEVICE`: key, port, and exactly this one peer.
fn set_device(index: u32, private_key: [u8; 32], port: u16, peer: &WgPeer) -> WireguardMessage {
    let allowed = peer
        .allowed_ips
        .iter()
        .map(|&(ip, cidr)| {
            WireguardAllowedIp(vec![
                WireguardAllowedIpAttr::Family(WireguardAddressFamily::Ipv4),
                WireguardAllowedIpAttr::IpAddr(IpAddr::V4(ip)),
                WireguardAllowedIpAttr::Cidr(cidr),
            ])
        })
        .collect();
    let mut attrs = vec![
        WireguardPeerAttribute::PublicKey(peer.public_key),
        WireguardPeerAttribute::Endpoint(SocketAddr::V4(peer.endpoint)),
    ];
    // All zeros is WireGuard's "no preshared key"; left out, as `wg` does.
    if peer.psk != [0; 32] {
        attrs.push(WireguardPeerAttribute::PresharedKey(peer.psk));
    }
    attrs.extend([
        WireguardPeerAttribute::Flags(WireguardPeerFlags::ReplaceAllowedIps),
        WireguardPeerAttribute::AllowedIps(allowed),
    ]);
    let peer = WireguardPeer(attrs);
    WireguardMessage {
        cmd: WireguardCmd::SetDevice,
        attributes: vec![
            WireguardAttribute::IfIndex(index),
            WireguardAttribute::PrivateKey(private_key),
            WireguardAttribute::ListenPort(port),
            WireguardAttribute::Flags(WireguardDeviceFlags::ReplacePeers),
            WireguardAttribute::Peers(vec![peer]),
        ],
    }
}

fn open_genl(what: &str) -> Result<NlSocket, RequestError> {
    NlSocket::generic().map_err(|source| RequestError::Io {
        what: format!("{what}: opening a generic netlink socket"),
        source,
    })
}

/// A kernel without WireGuard: `detail` says how it showed.
fn no_wireguard(what: &str, detail: &str) -> RequestError {
    Unsupported(format!(
        "{what}: the kernel has no WireGuard (wireguard module not loaded or not built; {detail})"
    ))
    .into()
}

/// The id of the `wireguard` generic netlink family; no such family means
/// no WireGuard in the kernel.
fn family_id(genl: &mut NlSocket, what: &str) -> Result<u16, RequestError> {
    let name = WireguardMessage::family_name();
    genl.genl_family(name).map_err(|f| {
        if f.errno() == Some(libc::ENOENT) {
            no_wireguard(what, &format!("no generic netlink family {name:?}"))
        } else {
            failed(what, f)
        }
    })
}

/// Sends one message of the `wireguard` family.
fn request(
    genl: &mut NlSocket,
    family: u16,
    msg: WireguardMessage,
    flags: u16,
    what: &str,
) -> Result<Vec<GenlMessage<WireguardMessage>>, RequestError> {
    let mut msg = GenlMessage::from_payload(msg);
    msg.set_resolved_family_id(family);
    genl.request(msg, flags).map_err(|f| failed(what, f))
}

fn failed(what: &str, failure: NlError) -> RequestError {
    request_error::failed(what.to_string(), failure, |e| {
        let words = match e {
            Errno::EPERM => "not permitted (needs CAP_NET_ADMIN in the namespace)",
            Errno::ENODEV => "no such WireGuard interface",
            Errno::EEXIST => "an interface of that name exists",
            Errno::EADDRINUSE => "the listen port is in use",
            Errno::EINVAL => "the kernel rejected the request (an attribute or the message layout)",
            e => e.desc(),
        };
        (false, words.to_string())
    })
}

fn bad_reply(what: &str, detail: String) -> RequestError {
    RequestError::BadReply {
        what: what.to_string(),
        detail,
    }
}

/// Runs an rtnetlink conversation on the calling thread
/// ([`netlink::on_rtnetlink`](super::netlink::on_rtnetlink)).
fn on_rtnetlink<T, F, Fut>(what: &str, f: F) -> Result<T, RequestError>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, rtnetlink::Error>>,
{
    super::netlink::on_rtnetlink(f)
        .map_err(|source| RequestError::Io {
            what: what.to_string(),
            source,
        })?
        .map_err(|e| link_error(what, e))
}

/// An rtnetlink failure; EOPNOTSUPP on a new link means the kind is unknown.
fn link_error(what: &str, e: rtnetlink::Error) -> RequestError {
    match e {
        rtnetlink::Error::NetlinkError(m) if m.raw_code() == -libc::EOPNOTSUPP => {
            no_wireguard(what, "link kind \"wireguard\" unknown")
        }
        rtnetlink::Error::NetlinkError(m) => failed(
            what,
            NlError::Refused {
                errno: m.raw_code().saturating_neg(),
                message: None,
            },
        ),
        e => bad_reply(what, e.to_string()),
    }
}

async fn add_link(h: Handle, name: String, mtu: u32) -> Result<u32, rtnetlink::Error> {
    h.link()
        .add(LinkWireguard::new(&name).mtu(mtu).build())
        .execute()
        .await?;
    let mut links = h.link().get().match_name(name).execute();
    let link = links
        .try_next()
        .await?
        .ok_or(rtnetlink::Error::RequestFailed)?;
    Ok(link.header.index)
}

async fn address_and_up(
    h: Handle,
    index: u32,
    addr: Ipv4Addr,
    prefix: u8,
) -> Result<(), rtnetlink::Error> {
    h.address()
        .add(index, IpAddr::V4(addr), prefix)
        .execute()
        .await?;
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{Emitable, NlasIterator};

    use super::*;
    use crate::sys::netns::in_fresh_netns;

    /// (type, nested flag, value) of each attribute in `b`.
    fn attrs(b: &[u8]) -> Vec<(u16, bool, Vec<u8>)> {
        NlasIterator::new(b)
            .map(|nla| {
                let nla = nla.unwrap();
                (nla.kind(), nla.nested_flag(), nla.value().to_vec())
            })
            .collect()
    }

    // From linux/wireguard.h: WGDEVICE_A_IFINDEX 1, PRIVATE_KEY 3, FLAGS 5,
    // LISTEN_PORT 6, PEERS 8; WGPEER_A_PUBLIC_KEY 1, FLAGS 3, ENDPOINT 4,
    // ALLOWEDIPS 9; WGALLOWEDIP_A_FAMILY 1, IPADDR 2, CIDR_MASK 3;
    // WGDEVICE_F_REPLACE_PEERS 1, WGPEER_F_REPLACE_ALLOWEDIPS 2; the
    // endpoint is a struct sockaddr_in (16 bytes, port big-endian).
    #[test]
    fn set_device_encodes_the_uapi_attributes() {
        let peer = WgPeer {
            public_key: [0xab; 32],
            endpoint: SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 51820),
            allowed_ips: vec![(Ipv4Addr::new(10, 9, 0, 2), 32)],
            psk: [0; 32],
        };
        let mut msg = GenlMessage::from_payload(set_device(7, [0x11; 32], 51821, &peer));
        msg.set_resolved_family_id(0x1d);
        let mut b = vec![0; msg.buffer_len()];
        msg.emit(&mut b);
        assert_eq!((b[0], b[1]), (1, 1), "WG_CMD_SET_DEVICE, version 1");
        // after the 4-byte genlmsghdr
        let dev = attrs(&b[4..]);
        let kinds: Vec<_> = dev.iter().map(|(k, n, _)| (*k, *n)).collect();
        assert_eq!(
            kinds,
            [(1, false), (3, false), (6, false), (5, false), (8, true)]
        );
        assert_eq!(dev[0].2, 7u32.to_ne_bytes());
        assert_eq!(dev[1].2, [0x11; 32]);
        assert_eq!(
            dev[2].2,
            51821u16.to_ne_bytes(),
            "listen port in host order"
        );
        assert_eq!(dev[3].2, 1u32.to_ne_bytes());
        let peers = attrs(&dev[4].2);
        assert_eq!(peers.len(), 1);
        assert!(peers[0].1, "each peer is a nested attribute");
        let p = attrs(&peers[0].2);
        let kinds: Vec<_> = p.iter().map(|(k, n, _)| (*k, *n)).collect();
        assert_eq!(kinds, [(1, false), (4, false), (3, false), (9, true)]);
        assert_eq!(p[0].2, [0xab; 32]);
        let mut sockaddr = 2u16.to_ne_bytes().to_vec();
        sockaddr.extend_from_slice(&51820u16.to_be_bytes());
        sockaddr.extend_from_slice(&[198, 18, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p[1].2, sockaddr);
        assert_eq!(p[2].2, 2u32.to_ne_bytes());
        let ips = attrs(&p[3].2);
        assert_eq!(ips.len(), 1);
        let ip = attrs(&ips[0].2);
        assert_eq!(ip[0], (1, false, 2u16.to_ne_bytes().to_vec()), "AF_INET");
        assert_eq!(ip[1], (2, false, vec![10, 9, 0, 2]));
        assert_eq!(ip[2], (3, false, vec![32]));
    }

    #[test]
    fn peer_counters_sum_and_keep_the_latest_handshake() {
        let peer = |rx, tx, secs| {
            WireguardPeer(vec![
                WireguardPeerAttribute::RxBytes(rx),
                WireguardPeerAttribute::TxBytes(tx),
                WireguardPeerAttribute::LastHandshake(
                    netlink_packet_wireguard::WireguardTimeSpec {
                        seconds: secs,
                        nano_seconds: 5,
                    },
                ),
            ])
        };
        let mut s = WgStats::default();
        add_peer_counters(&mut s, &[WireguardAttribute::Peers(vec![peer(10, 20, 0)])]);
        assert_eq!((s.rx_bytes, s.tx_bytes, s.last_handshake), (10, 20, None));
        add_peer_counters(&mut s, &[WireguardAttribute::Peers(vec![peer(1, 2, 100)])]);
        let at = SystemTime::UNIX_EPOCH + Duration::new(100, 5);
        assert_eq!(
            (s.rx_bytes, s.tx_bytes, s.last_handshake),
            (11, 22, Some(at))
        );
    }

    /// RFC 7748 section 6.1: Alice's key pair.
    #[test]
    fn public_key_matches_rfc_7748() {
        let hex = |s: &str| -> [u8; 32] {
            std::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        };
        let private = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(public_key(&private), public);
        assert_ne!(test_private_key(1), test_private_key(2));
        assert_eq!(test_private_key(1)[0] & 7, 0, "clamped");
    }

    /// On a kernel without WireGuard (the 6.18 host) every entry point says
    /// so; with it, the interface comes up and reads back.
    #[test]
    fn kernel_without_wireguard_says_so() {
        in_fresh_netns(|| {
            let peer = WgPeer {
                public_key: public_key(&test_private_key(2)),
                endpoint: SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 51820),
                allowed_ips: vec![(Ipv4Addr::new(10, 9, 0, 2), 32)],
                psk: [0; 32],
            };
            let ip = Ipv4Addr::new(10, 9, 0, 1);
            match create("wgt", test_private_key(1), 51820, &peer, ip, 24, 1420) {
                Ok(index) => {
                    assert!(index > 0);
                    assert_eq!(peer_stats("wgt").unwrap().last_handshake, None);
                }
                Err(e) => {
                    eprintln!("{e}");
                    assert!(matches!(e, RequestError::Unsupported(_)), "{e}");
                    let e = peer_stats("wgt").unwrap_err();
                    assert!(matches!(e, RequestError::Unsupported(_)), "{e}");
                    let e = on_rtnetlink("link", |h| add_link(h, "wgt".into(), 1420)).unwrap_err();
                    eprintln!("{e}");
                    assert!(matches!(e, RequestError::Unsupported(_)), "{e}");
                }
            }
        });
    }
}
