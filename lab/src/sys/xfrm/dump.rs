//! What the kernel reports back: the states (with their counters) and
//! policies of an xfrm dump.

use std::net::Ipv4Addr;

use netlink_packet_core::{DecodeError, NetlinkDeserializable, NetlinkHeader, Parseable};
use netlink_packet_xfrm::state::ModifyMessage as StateModify;
use netlink_packet_xfrm::{XFRM_MSG_NEWSA, XFRM_USER_SA_INFO_LEN, XfrmAttrs};

/// Policy dumps: only the tests read policies back.
#[cfg(test)]
use {
    super::message::PolicyDir,
    netlink_packet_xfrm::policy::ModifyMessage as PolicyModify,
    netlink_packet_xfrm::{XFRM_MSG_NEWPOLICY, XFRM_USER_POLICY_INFO_LEN},
};

/// A state as the kernel reports it, with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XfrmStateInfo {
    /// SPI (host order).
    pub(crate) spi: u32,
    /// IP protocol (50 for ESP).
    pub(crate) proto: u8,
    /// Source address.
    pub(crate) src: Ipv4Addr,
    /// Destination address.
    pub(crate) dst: Ipv4Addr,
    /// Request id.
    pub(crate) reqid: u32,
    /// Anti-replay window in packets.
    pub(crate) replay_window: u32,
    /// Packets processed.
    pub(crate) packets: u64,
    /// Bytes processed.
    pub(crate) bytes: u64,
    /// Packets dropped as too old for the replay window.
    pub(crate) outside_window: u32,
    /// Packets dropped as replayed.
    pub(crate) replayed: u32,
    /// Packets that failed the integrity check.
    pub(crate) integrity_failed: u32,
}

#[cfg(test)]
/// A policy as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XfrmPolicyInfo {
    /// Selector source.
    pub(crate) src: Ipv4Addr,
    /// Selector destination.
    pub(crate) dst: Ipv4Addr,
    /// In or out; `None` for forward (never added here).
    pub(crate) dir: Option<PolicyDir>,
    /// The reqids of its templates.
    pub(crate) reqids: Vec<u32>,
}

/// A reply of the xfrm dumps. The crate's parsers slice a message's fixed
/// part without checking its length (a short reply would panic), so the
/// length is checked here first; types the lab does not read stay
/// undecoded.
#[derive(Debug)]
pub(super) enum XfrmReply {
    /// `XFRM_MSG_NEWSA`: a state.
    State(XfrmStateInfo),
    /// `XFRM_MSG_NEWPOLICY`: a policy.
    #[cfg(test)]
    Policy(XfrmPolicyInfo),
    /// Anything else.
    Other,
}

impl NetlinkDeserializable for XfrmReply {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, DecodeError> {
        let whole = |len: usize, what: &str| {
            if payload.len() < len {
                Err(DecodeError::from(format!(
                    "a {}-byte {what}",
                    payload.len()
                )))
            } else {
                Ok(())
            }
        };
        match header.message_type {
            XFRM_MSG_NEWSA => {
                whole(XFRM_USER_SA_INFO_LEN, "state")?;
                StateModify::parse(payload).map(|m| Self::State(state_info(&m)))
            }
            #[cfg(test)]
            XFRM_MSG_NEWPOLICY => {
                whole(XFRM_USER_POLICY_INFO_LEN, "policy")?;
                PolicyModify::parse(payload).map(|m| Self::Policy(policy_info(&m)))
            }
            _ => Ok(Self::Other),
        }
    }
}

/// A dumped state's identity and counters.
fn state_info(msg: &StateModify) -> XfrmStateInfo {
    let info = &msg.user_sa_info;
    let bitmap_window = msg.nlas.iter().find_map(|nla| match nla {
        XfrmAttrs::ReplayStateEsn(r) => Some(r.replay_window),
        _ => None,
    });
    XfrmStateInfo {
        spi: info.id.spi,
        proto: info.id.proto,
        src: info.saddr.to_ipv4(),
        dst: info.id.daddr.to_ipv4(),
        reqid: info.reqid,
        replay_window: bitmap_window.unwrap_or(info.replay_window.into()),
        packets: info.lifetime_cur.packets,
        bytes: info.lifetime_cur.bytes,
        outside_window: info.stats.replay_window,
        replayed: info.stats.replay,
        integrity_failed: info.stats.integrity_failed,
    }
}

#[cfg(test)]
/// A dumped policy's selector, direction and template reqids.
fn policy_info(msg: &PolicyModify) -> XfrmPolicyInfo {
    let info = &msg.user_policy_info;
    let dir = [PolicyDir::In, PolicyDir::Out]
        .into_iter()
        .find(|d| d.raw() == info.direction);
    let reqids = msg
        .nlas
        .iter()
        .filter_map(|nla| match nla {
            XfrmAttrs::Template(t) => Some(t.iter().map(|t| t.reqid)),
            _ => None,
        })
        .flatten()
        .collect();
    XfrmPolicyInfo {
        src: info.selector.saddr.to_ipv4(),
        dst: info.selector.daddr.to_ipv4(),
        dir,
        reqids,
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::tests::{DST, SRC, cmac_sa, emit};
    use super::super::message::{PolicyDir, policy_message, sa_message};
    use super::*;

    fn decode(kind: u16, payload: &[u8]) -> Result<XfrmReply, DecodeError> {
        let mut header = NetlinkHeader::default();
        header.message_type = kind;
        XfrmReply::deserialize(&header, payload)
    }

    #[test]
    fn dumped_policy_and_short_replies_parse_without_panicking() {
        let b = emit(&policy_message(SRC, DST, PolicyDir::Out, 3));
        let p = match decode(XFRM_MSG_NEWPOLICY, &b) {
            Ok(XfrmReply::Policy(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (p.src, p.dst, p.dir, p.reqids),
            (SRC, DST, Some(PolicyDir::Out), vec![3])
        );
        assert!(decode(XFRM_MSG_NEWPOLICY, &b[..100]).is_err());
        assert!(decode(XFRM_MSG_NEWSA, &[0; 100]).is_err());
        let getsa = netlink_packet_xfrm::XFRM_MSG_GETSA;
        assert!(matches!(decode(getsa, &[1]), Ok(XfrmReply::Other)));
        let state = |window| {
            let b = emit(&sa_message(&cmac_sa(window)).unwrap());
            match decode(XFRM_MSG_NEWSA, &b) {
                Ok(XfrmReply::State(s)) => s,
                other => panic!("{other:?}"),
            }
        };
        let s = state(64);
        assert_eq!(
            (s.spi, s.proto, s.src, s.dst, s.reqid),
            (0x1234_5678, 50, SRC, DST, 7)
        );
        assert_eq!(s.replay_window, 64, "from the bitmap replay state");
        assert_eq!(state(24).replay_window, 24, "from the legacy field");
    }
}
