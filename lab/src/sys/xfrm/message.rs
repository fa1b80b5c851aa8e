//! The xfrm messages the lab sends: IPv4 ESP states and policies in
//! transport mode, built with `netlink-packet-xfrm` and checked against the
//! kernel's UAPI layout by the tests.

use std::net::Ipv4Addr;

use netlink_packet_xfrm::policy::ModifyMessage as PolicyModify;
use netlink_packet_xfrm::state::ModifyMessage as StateModify;
use netlink_packet_xfrm::{
    AF_INET, Address, Alg, AlgAead, AlgAuth, IPPROTO_ESP, Id, LifetimeConfig, ReplayEsn, Selector,
    UserPolicyInfo, UserSaInfo, UserTemplate, XFRM_MODE_TRANSPORT, XFRM_POLICY_ALLOW,
    XFRM_POLICY_IN, XFRM_POLICY_OUT, XFRM_SHARE_ANY, XfrmAttrs,
};

use crate::sys::request_error::RequestError;

/// The encryption of [`XfrmAlgs::CbcAuth`].
const CBC_AES: &str = "cbc(aes)";
/// Bytes of an algorithm name in `struct xfrm_algo*`, NUL included.
const ALG_NAME_LEN: usize = 64;
/// The legacy replay state is a 32-bit bitmap: larger windows need
/// `XFRMA_REPLAY_ESN_VAL` (without the ESN flag), as iproute2 does.
const LEGACY_REPLAY_WINDOW: u32 = 32;
/// The kernel's bound on the bitmap (`XFRMA_REPLAY_ESN_MAX`, in bytes).
const MAX_REPLAY_WINDOW: u32 = 4096;

/// The algorithms of an ESP state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum XfrmAlgs {
    /// AES-CBC ("cbc(aes)", `enc_key` 16/24/32 bytes) with a separate MAC,
    /// Encrypt-then-MAC: `auth_name` is the kernel's name ("cmac(aes)",
    /// "hmac(sha256)", "xcbc(aes)"), `trunc_bits` the ICV length (96 for
    /// AES-CMAC-96, RFC 4494).
    CbcAuth {
        enc_key: Vec<u8>,
        auth_name: String,
        auth_key: Vec<u8>,
        trunc_bits: u32,
    },
    #[allow(
        dead_code,
        reason = "the kernel-ESP bench variant (rfc4106(gcm(aes))) is next"
    )]
    /// An AEAD, e.g. "rfc4106(gcm(aes))": `key` is the AES key followed by
    /// the 4-byte salt, `icv_bits` the tag length (128).
    Aead {
        name: String,
        key: Vec<u8>,
        icv_bits: u32,
    },
}

impl XfrmAlgs {
    /// The kernel names, for messages.
    pub(super) fn names(&self) -> String {
        match self {
            Self::CbcAuth { auth_name, .. } => format!("{CBC_AES} + {auth_name}"),
            Self::Aead { name, .. } => name.clone(),
        }
    }
}

/// One direction of an ESP security association, transport mode, IPv4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XfrmSa {
    /// SPI (host order; sent big-endian).
    pub(crate) spi: u32,
    /// Sender of the protected packets.
    pub(crate) src: Ipv4Addr,
    /// Receiver of the protected packets.
    pub(crate) dst: Ipv4Addr,
    /// Encryption and integrity.
    pub(crate) algs: XfrmAlgs,
    /// Anti-replay window in packets (0 off, at most 4096).
    pub(crate) replay_window: u32,
    /// Ties the state to a policy template with the same reqid.
    pub(crate) reqid: u32,
}

/// Direction of a policy, seen from this namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyDir {
    /// Traffic this namespace receives (checked after decryption).
    In,
    /// Traffic this namespace sends (encrypted by the state of the reqid).
    Out,
}

impl PolicyDir {
    pub(super) fn raw(self) -> u8 {
        match self {
            Self::In => XFRM_POLICY_IN,
            Self::Out => XFRM_POLICY_OUT,
        }
    }
}

/// `src/32 -> dst/32`, every protocol and port.
fn host_selector(src: Ipv4Addr, dst: Ipv4Addr) -> Selector {
    Selector {
        saddr: Address::from_ipv4(&src),
        daddr: Address::from_ipv4(&dst),
        prefixlen_s: 32,
        prefixlen_d: 32,
        family: AF_INET,
        ..Selector::default()
    }
}

pub(super) fn sa_message(sa: &XfrmSa) -> Result<StateModify, RequestError> {
    let (legacy_window, esn) = replay_state(sa.replay_window)?;
    let user_sa_info = UserSaInfo {
        selector: host_selector(sa.src, sa.dst),
        id: Id {
            daddr: Address::from_ipv4(&sa.dst),
            spi: sa.spi,
            proto: IPPROTO_ESP,
        },
        saddr: Address::from_ipv4(&sa.src),
        // byte and packet limits infinite, no expiry
        lifetime_cfg: LifetimeConfig::default(),
        reqid: sa.reqid,
        family: AF_INET,
        mode: XFRM_MODE_TRANSPORT,
        replay_window: legacy_window,
        ..UserSaInfo::default()
    };
    let mut nlas = alg_attrs(&sa.algs)?;
    nlas.extend(esn.map(XfrmAttrs::ReplayStateEsn));
    Ok(StateModify { user_sa_info, nlas })
}

/// A window up to 32 fits the legacy field; a larger one goes in a bitmap
/// replay state, and the kernel then wants the legacy field 0.
fn replay_state(window: u32) -> Result<(u8, Option<ReplayEsn>), RequestError> {
    if window <= LEGACY_REPLAY_WINDOW {
        // lossless: at most 32
        return Ok((window as u8, None));
    }
    if window > MAX_REPLAY_WINDOW {
        return Err(RequestError::Invalid(format!(
            "replay window {window} exceeds the kernel's {MAX_REPLAY_WINDOW}"
        )));
    }
    let bmp_len = window.div_ceil(32);
    let esn = ReplayEsn {
        bmp_len,
        replay_window: window,
        bmp: vec![0; bmp_len as usize],
        ..ReplayEsn::default()
    };
    Ok((0, Some(esn)))
}

fn alg_attrs(algs: &XfrmAlgs) -> Result<Vec<XfrmAttrs>, RequestError> {
    Ok(match algs {
        XfrmAlgs::CbcAuth {
            enc_key,
            auth_name,
            auth_key,
            trunc_bits,
        } => vec![
            XfrmAttrs::EncryptionAlg(Alg {
                alg_name: alg_name(CBC_AES)?,
                alg_key_len: key_bits(enc_key)?,
                alg_key: enc_key.clone(),
            }),
            XfrmAttrs::AuthenticationAlgTrunc(AlgAuth {
                alg_name: alg_name(auth_name)?,
                alg_key_len: key_bits(auth_key)?,
                alg_trunc_len: *trunc_bits,
                alg_key: auth_key.clone(),
            }),
        ],
        XfrmAlgs::Aead {
            name,
            key,
            icv_bits,
        } => vec![XfrmAttrs::EncryptionAlgAead(AlgAead {
            alg_name: alg_name(name)?,
            alg_key_len: key_bits(key)?,
            alg_icv_len: *icv_bits,
            alg_key: key.clone(),
        })],
    })
}

/// The NUL-padded name field of `struct xfrm_algo*`.
fn alg_name(name: &str) -> Result<[u8; ALG_NAME_LEN], RequestError> {
    if name.is_empty() || name.len() >= ALG_NAME_LEN || name.contains('\0') {
        return Err(RequestError::Invalid(format!(
            "algorithm name {name:?} must have 1 to {} bytes and no NUL",
            ALG_NAME_LEN - 1
        )));
    }
    let mut out = [0; ALG_NAME_LEN];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Ok(out)
}

/// Key lengths go to the kernel in bits.
fn key_bits(key: &[u8]) -> Result<u32, RequestError> {
    u32::try_from(key.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .filter(|&bits| bits > 0)
        .ok_or_else(|| RequestError::Invalid(format!("a {}-byte key", key.len())))
}

pub(super) fn policy_message(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dir: PolicyDir,
    reqid: u32,
) -> PolicyModify {
    let user_policy_info = UserPolicyInfo {
        selector: host_selector(src, dst),
        lifetime_cfg: LifetimeConfig::default(),
        direction: dir.raw(),
        action: XFRM_POLICY_ALLOW,
        share: XFRM_SHARE_ANY,
        ..UserPolicyInfo::default()
    };
    // Transport mode takes the addresses from the packet: the template's
    // stay zero, as iproute2 leaves them; all algorithms allowed (~0).
    let template = UserTemplate {
        id: Id {
            proto: IPPROTO_ESP,
            ..Id::default()
        },
        family: AF_INET,
        reqid,
        mode: XFRM_MODE_TRANSPORT,
        share: XFRM_SHARE_ANY,
        ..UserTemplate::default()
    };
    PolicyModify {
        user_policy_info,
        nlas: vec![XfrmAttrs::Template(vec![template])],
    }
}

#[cfg(test)]
pub(super) mod tests {
    use netlink_packet_core::{Emitable, NlasIterator};

    use super::*;

    pub(in crate::sys::xfrm) const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    pub(in crate::sys::xfrm) const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    pub(in crate::sys::xfrm) fn cmac_sa(window: u32) -> XfrmSa {
        XfrmSa {
            spi: 0x1234_5678,
            src: SRC,
            dst: DST,
            algs: XfrmAlgs::CbcAuth {
                enc_key: vec![0x11; 16],
                auth_name: "cmac(aes)".into(),
                auth_key: vec![0x22; 16],
                trunc_bits: 96,
            },
            replay_window: window,
            reqid: 7,
        }
    }

    pub(in crate::sys::xfrm) fn emit(msg: &impl Emitable) -> Vec<u8> {
        let mut buf = vec![0; msg.buffer_len()];
        msg.emit(&mut buf);
        buf
    }

    fn u16_at(b: &[u8], off: usize) -> u16 {
        u16::from_ne_bytes(b[off..off + 2].try_into().unwrap())
    }

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_ne_bytes(b[off..off + 8].try_into().unwrap())
    }

    /// The attributes after a fixed part, as (type, value).
    fn attrs(b: &[u8]) -> Vec<(u16, Vec<u8>)> {
        NlasIterator::new(b)
            .map(|nla| {
                let nla = nla.unwrap();
                (nla.kind(), nla.value().to_vec())
            })
            .collect()
    }

    // Offsets from the x86_64 UAPI headers (`linux/xfrm.h`), checked with
    // sizeof/offsetof: xfrm_usersa_info 224 (sel 0, id 56, saddr 80,
    // lft 96, curlft 160, stats 192, seq 204, reqid 208, family 212,
    // mode 214, replay_window 215, flags 216); xfrm_selector 56 (saddr 16,
    // family 40, prefixlen_d 42, prefixlen_s 43, proto 44); xfrm_id 24
    // (spi 16, proto 20); xfrm_algo 68, xfrm_algo_auth/aead 72.
    #[test]
    fn newsa_fixed_part_matches_the_kernel_layout() {
        let b = emit(&sa_message(&cmac_sa(64)).unwrap());
        assert_eq!(&b[0..4], &DST.octets(), "sel.daddr");
        assert_eq!(&b[16..20], &SRC.octets(), "sel.saddr");
        assert_eq!(u16_at(&b, 40), 2, "sel.family AF_INET");
        assert_eq!((b[42], b[43], b[44]), (32, 32, 0), "prefixes, any proto");
        assert_eq!(&b[56..60], &DST.octets(), "id.daddr");
        assert_eq!(&b[72..76], &[0x12, 0x34, 0x56, 0x78], "id.spi big-endian");
        assert_eq!(b[76], 50, "id.proto ESP");
        assert_eq!(&b[80..84], &SRC.octets(), "saddr");
        for limit in 0..4 {
            assert_eq!(
                u64_at(&b, 96 + 8 * limit),
                u64::MAX,
                "lifetime limit {limit}"
            );
        }
        assert_eq!(u64_at(&b, 96 + 32), 0, "no expiry");
        assert_eq!(u32_at(&b, 208), 7, "reqid");
        assert_eq!(u16_at(&b, 212), 2, "family");
        assert_eq!(b[214], 0, "transport mode");
        assert_eq!(b[215], 0, "legacy window 0 beside a bitmap replay state");
        assert_eq!(b[216], 0, "flags: no ESN");
        assert!(b[217..224].iter().all(|&x| x == 0), "tail padding");
    }

    #[test]
    fn newsa_attributes_carry_cbc_cmac_96_and_a_64_packet_window() {
        let b = emit(&sa_message(&cmac_sa(64)).unwrap());
        let a = attrs(&b[224..]);
        assert_eq!(a.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [2, 20, 23]);
        let crypt = &a[0].1;
        assert_eq!(crypt.len(), 68 + 16);
        assert_eq!(&crypt[..9], b"cbc(aes)\0");
        assert_eq!(u32_at(crypt, 64), 128, "key length in bits");
        assert_eq!(&crypt[68..], &[0x11; 16]);
        let auth = &a[1].1;
        assert_eq!(auth.len(), 72 + 16);
        assert_eq!(&auth[..10], b"cmac(aes)\0");
        assert!(auth[10..64].iter().all(|&x| x == 0));
        assert_eq!(u32_at(auth, 64), 128, "key length in bits");
        assert_eq!(u32_at(auth, 68), 96, "ICV truncated to 96 bits");
        assert_eq!(&auth[72..], &[0x22; 16]);
        // xfrm_replay_state_esn: bmp_len, oseq, seq, oseq_hi, seq_hi,
        // replay_window, then bmp_len words
        let esn = &a[2].1;
        assert_eq!(esn.len(), 24 + 8);
        assert_eq!(u32_at(esn, 0), 2, "bmp_len");
        assert_eq!(u32_at(esn, 20), 64, "replay_window");
    }

    #[test]
    fn small_windows_use_the_legacy_field() {
        let b = emit(&sa_message(&cmac_sa(32)).unwrap());
        assert_eq!(b[215], 32);
        assert!(attrs(&b[224..]).iter().all(|(k, _)| *k != 23));
        assert!(matches!(
            sa_message(&cmac_sa(4097)),
            Err(RequestError::Invalid(_))
        ));
    }

    #[test]
    fn aead_attribute_carries_key_salt_and_icv_bits() {
        let mut sa = cmac_sa(0);
        sa.algs = XfrmAlgs::Aead {
            name: "rfc4106(gcm(aes))".into(),
            key: vec![0x33; 20],
            icv_bits: 128,
        };
        let b = emit(&sa_message(&sa).unwrap());
        let a = attrs(&b[224..]);
        assert_eq!(a.len(), 1);
        let (kind, aead) = &a[0];
        assert_eq!(*kind, 18, "XFRMA_ALG_AEAD");
        assert_eq!(&aead[..18], b"rfc4106(gcm(aes))\0");
        assert_eq!(u32_at(aead, 64), 160, "16-byte key + 4-byte salt, in bits");
        assert_eq!(u32_at(aead, 68), 128, "ICV bits");
        assert_eq!(aead.len(), 72 + 20);
    }

    #[test]
    fn bad_names_and_keys_are_refused_before_the_kernel() {
        let mut sa = cmac_sa(64);
        sa.algs = XfrmAlgs::Aead {
            name: "x".repeat(64),
            key: vec![1; 20],
            icv_bits: 128,
        };
        assert!(matches!(sa_message(&sa), Err(RequestError::Invalid(_))));
        sa.algs = XfrmAlgs::Aead {
            name: "rfc4106(gcm(aes))".into(),
            key: Vec::new(),
            icv_bits: 128,
        };
        assert!(matches!(sa_message(&sa), Err(RequestError::Invalid(_))));
    }

    // xfrm_userpolicy_info 168 (sel 0, lft 56, curlft 120, priority 152,
    // index 156, dir 160, action 161, flags 162, share 163); xfrm_user_tmpl
    // 64 (id 0: spi 16, proto 20; family 24, saddr 28, reqid 44, mode 48,
    // share 49, optional 50, aalgos 52, ealgos 56, calgos 60).
    #[test]
    fn newpolicy_matches_the_kernel_layout() {
        let b = emit(&policy_message(SRC, DST, PolicyDir::In, 9));
        assert_eq!(&b[0..4], &DST.octets());
        assert_eq!(&b[16..20], &SRC.octets());
        assert_eq!(u16_at(&b, 40), 2);
        assert_eq!(u64_at(&b, 56 + 8), u64::MAX, "hard byte limit");
        assert_eq!((b[160], b[161], b[162], b[163]), (0, 0, 0, 0), "in, allow");
        let a = attrs(&b[168..]);
        assert_eq!(a.len(), 1);
        let (kind, t) = &a[0];
        assert_eq!(*kind, 5, "XFRMA_TMPL");
        assert_eq!(t.len(), 64);
        assert_eq!(u32_at(t, 16), 0, "any SPI");
        assert_eq!(t[20], 50, "ESP");
        assert_eq!(u16_at(t, 24), 2, "family");
        assert_eq!(u32_at(t, 44), 9, "reqid");
        assert_eq!(
            (t[48], t[49], t[50]),
            (0, 0, 0),
            "transport, share any, required"
        );
        for off in [52, 56, 60] {
            assert_eq!(u32_at(t, off), u32::MAX, "all algorithms");
        }
        let out = emit(&policy_message(SRC, DST, PolicyDir::Out, 9));
        assert_eq!(out[160], 1, "out");
    }
}
