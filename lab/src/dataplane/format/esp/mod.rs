//! ESP (`ebpf/esp_dp.bpf.c`): RFC 4303 transport mode with AES-CBC and
//! AES-CMAC-96. Security associations (`sa`) key it, each end sending with
//! its own SPI; `reference` is the independent reading and sealing of its
//! packets (RustCrypto).

pub(crate) mod abi;
pub(crate) mod reference;
mod sa;

use super::interface::{Abi, Keys, SaDir, Variant, WireFormat, differs};
use abi::{ESP_COUNTERS, ESP_OVERHEAD};
use crate::dataplane::embed::{Flavor, embedded};
use crate::dataplane::{DataPlane, DataPlaneError};
use crate::domain::{Algorithm, Direction, KernelStack, Stack};
use crate::net::{ETH_HLEN, IP_HLEN, checksum, ipv4_payload, l4_checksum_at};
use sa::Sa;

/// The ESP format.
pub(crate) struct Esp;

/// SPI, sequence number and IV in front of the ciphertext.
const PREFIX: usize = 8 + 16;
/// IP protocol number of ESP.
const PROTOCOL: u8 = 50;

/// Ciphertext bytes for an IPv4 packet of `size` bytes: the payload,
/// padding 1, 2, 3, …, pad length and next header, to whole blocks.
fn cipher_len(size: u32) -> u32 {
    let plain = size - IP_HLEN as u32 + 2;
    plain.div_ceil(16) * 16
}

/// The ESP format's name in files.
const NAME: &str = "esp";

/// The ESP variants by the names tests use.
#[cfg(test)]
#[allow(non_upper_case_globals)]
impl crate::domain::BenchVariant {
    /// The ESP data plane (AES-CBC + AES-CMAC-96).
    pub(crate) const Esp: Self = Self::esp(false);
    /// The ESP data plane, in place.
    pub(crate) const EspInPlace: Self = Self::esp(true);

    const fn esp(in_place: bool) -> Self {
        Self::Lab {
            format: crate::domain::Mode::named(NAME),
            algorithm: Algorithm::CbcAes,
            in_place,
        }
    }
}

impl WireFormat for Esp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn algorithms(&self) -> &'static [Algorithm] {
        &[Algorithm::CbcAes]
    }

    fn variants(&self) -> &'static [Variant] {
        &[
            Variant {
                algorithm: Algorithm::CbcAes,
                in_place: false,
                name: "esp",
                short: "esp",
                rgb: (44, 160, 44),
            },
            Variant {
                algorithm: Algorithm::CbcAes,
                in_place: true,
                name: "esp in place",
                short: "esp ip",
                rgb: (140, 210, 120),
            },
        ]
    }

    fn cipher_label(&self, algorithm: Algorithm) -> String {
        format!("esp {}", algorithm.kernel_name())
    }

    fn object_name(&self, in_place: bool) -> &'static str {
        if in_place { "esp_inplace" } else { "esp" }
    }

    fn object(&self, in_place: bool, flavor: Flavor) -> Option<&'static [u8]> {
        Some(match (in_place, flavor) {
            (false, Flavor::Plain) => embedded!("esp"),
            (true, Flavor::Plain) => embedded!("esp_inplace"),
            (false, Flavor::TestIv) => embedded!("esp_testiv"),
            (true, Flavor::TestIv) => embedded!("esp_inplace_testiv"),
            (_, Flavor::ExtraCopy) => return None,
        })
    }

    fn has_in_place(&self) -> bool {
        true
    }

    fn abi(&self) -> Abi {
        Abi {
            provision: "esp_provision",
            stats: "esp_stats",
            counters: ESP_COUNTERS,
            cipher_probe: false,
            layouts: abi::layouts,
        }
    }

    fn overhead(&self) -> u32 {
        ESP_OVERHEAD
    }

    fn egress_frame_len(&self, _: Algorithm, size: u32) -> usize {
        ETH_HLEN + IP_HLEN + PREFIX + cipher_len(size) as usize + reference::ICV
    }

    /// An inbound and an outbound SA, the outbound one active.
    fn provision(&self, dp: &DataPlane, keys: &Keys) -> Result<(), DataPlaneError> {
        self.add_sa(dp, SaDir::In, keys)?;
        self.add_sa(dp, SaDir::Out, keys)
    }

    fn has_sas(&self) -> bool {
        true
    }

    /// SPI and sequence number, big-endian, in front of the IV.
    fn sequence(&self, protocol: u8, payload: &[u8]) -> Option<(u32, u64)> {
        let word = |at: usize| {
            Some(u32::from_be_bytes(
                payload.get(at..at + 4)?.try_into().ok()?,
            ))
        };
        (protocol == PROTOCOL).then_some(())?;
        Some((word(0)?, u64::from(word(4)?)))
    }

    /// RFC 4303 3.3.3: an SA's first packet carries 1.
    fn sequence_names(&self) -> (&'static str, &'static str, u64) {
        ("SPI", "sequence", 1)
    }

    fn kernel_peer(&self) -> Option<Stack> {
        Some(Stack::Xfrm)
    }

    fn add_sa(&self, dp: &DataPlane, dir: SaDir, keys: &Keys) -> Result<(), DataPlaneError> {
        dp.add_sa(&Sa {
            spi: match dir {
                SaDir::In => keys.spi_in,
                SaDir::Out => keys.spi_out,
            },
            dir,
            enc_key: keys.key,
            auth_key: keys.auth_key,
            activate: dir == SaDir::Out,
            seq_start: 0,
        })
        .map(drop)
    }

    fn del_sa(&self, dp: &DataPlane, dir: SaDir, spi: u32) -> Result<(), DataPlaneError> {
        dp.del_sa(dir, spi).map(drop)
    }

    /// Nothing but its SAs keys it.
    fn clear(&self, _: &DataPlane) -> Result<(), DataPlaneError> {
        Ok(())
    }

    /// After the SPI and the sequence number, in ESP packets.
    fn iv_at(&self, _: Algorithm) -> Option<(usize, Option<u8>)> {
        Some((8, Some(PROTOCOL)))
    }

    /// Egress encrypts and computes the CMAC (itself a CBC encryption);
    /// ingress computes the CMAC and decrypts.
    fn cipher_passes(&self, dir: Direction) -> &'static [Direction] {
        match dir {
            Direction::Egress => &[Direction::Egress, Direction::Egress],
            Direction::Ingress => &[Direction::Egress, Direction::Ingress],
        }
    }

    fn ingress_once(&self) -> bool {
        true
    }

    /// ARP alone.
    fn passes_unauthenticated(&self, frame: &[u8]) -> bool {
        frame.get(12..14) == Some(&[0x08, 0x06])
    }

    fn completes_checksums(&self) -> bool {
        true
    }

    fn reference_name(&self) -> &'static str {
        "reference AES-CMAC and AES-CBC"
    }

    /// The IPv4 header kept but for protocol 50, length and checksum, and
    /// the ESP payload opening to the input's datagram (whose checksum
    /// must be complete: egress completes it).
    fn check_egress(&self, keys: &Keys, input: &[u8], out: &[u8]) -> Result<(), String> {
        let size = (input.len() - ETH_HLEN) as u32;
        let want = self.egress_frame_len(keys.algorithm, size);
        if out.len() != want {
            return Err(format!(
                "egress output is {} bytes, ESP needs {want}",
                out.len()
            ));
        }
        let (ih, oh) = (
            &input[ETH_HLEN..ETH_HLEN + IP_HLEN],
            &out[ETH_HLEN..ETH_HLEN + IP_HLEN],
        );
        if checksum(oh) != 0 || oh[9] != PROTOCOL || ih[12..20] != oh[12..20] {
            return Err(
                "egress output's IPv4 header is not ESP's (checksum, protocol 50, addresses)"
                    .into(),
            );
        }
        match reference::open(keys.key, keys.auth_key, &out[ETH_HLEN + IP_HLEN..]) {
            Ok(o) if o.next_header == ih[9] && o.inner == input[ETH_HLEN + IP_HLEN..] => Ok(()),
            Ok(_) => Err("reference AES opens the ESP packet to something else".into()),
            Err(why) => Err(format!(
                "reference AES-CMAC/AES-CBC refuses the ESP packet: {why:?}"
            )),
        }
    }

    /// The packet opens with the keys to the input's payload (TCP/UDP
    /// checksums aside: egress completes them) and is exactly
    /// [`reference::seal_as`] of what it opened to, with its own SPI and
    /// sequence number.
    fn reference(&self, keys: &Keys, iv: [u8; 16], input: &[u8], out: &[u8]) -> Result<(), String> {
        let (Some(plain), Some(wire)) = (ipv4_payload(input), ipv4_payload(out)) else {
            return Err("egress counted an encryption but its output has no IPv4 payload".into());
        };
        let opened = reference::open(keys.key, keys.auth_key, wire)
            .map_err(|why| format!("the reference ESP reading refuses egress's output: {why:?}"))?;
        let mut inner = opened.inner.clone();
        let mut sent = plain.to_vec();
        for l4 in [&mut inner, &mut sent] {
            if let Some(at) = l4_checksum_at(input[23], l4.len()) {
                l4[at..at + 2].fill(0);
            }
        }
        differs("the payload sent", &inner, &sent)?;
        let want = reference::seal_as(
            keys.key,
            keys.auth_key,
            (opened.spi, opened.seq),
            iv,
            &opened.inner,
            opened.next_header,
        )
        .ok_or("no reference for this key length")?;
        differs("the reference ESP packet", wire, &want)
    }

    /// Only protocol 50 with a valid ICV and trailer opens; the inner
    /// protocol is the trailer's next header.
    fn open(&self, keys: &Keys, protocol: u8, payload: &[u8]) -> Option<(u8, Vec<u8>)> {
        if protocol != PROTOCOL {
            return None;
        }
        let o = reference::open(keys.key, keys.auth_key, payload).ok()?;
        Some((o.next_header, o.inner))
    }

    /// The CMAC, a second CBC pass over the packet.
    fn bench_adds(&self) -> Option<&'static str> {
        Some("AES-CBC + AES-CMAC-96, the CMAC a second CBC pass")
    }

    /// The kernel's ESP with our algorithms, and with the AEAD a user
    /// would pick.
    fn bench_rivals(&self) -> &'static [KernelStack] {
        &[KernelStack::EspCbcCmac, KernelStack::EspGcm]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_pad_to_blocks_around_spi_seq_iv_and_icv() {
        // 1480 + 2 -> 1488; SPI, seq, IV, ICV around it.
        assert_eq!(cipher_len(1500), 1488);
        assert_eq!(cipher_len(34), 16);
        assert_eq!(
            Esp.egress_frame_len(Algorithm::CbcAes, 1500),
            14 + 20 + 24 + 1488 + 12
        );
    }
}
