//! A validated bench: plain data that crosses into VM guests as JSON.

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::dataplane::UserDataplane;
use crate::dataplane::abi::BPFCRYPT_MAX_PLAIN;
use crate::dataplane::format::esp::abi::ESP_OVERHEAD;
use crate::dataplane::format::{self, WireFormat};
use crate::domain::{Algorithm, BenchVariant, Build, IfAddr, KernelStack, Mode, Side};

/// Smallest packet size (IPv4 total length): header, UDP header and a
/// 16-byte sequence/marker prefix.
pub(crate) const MIN_SIZE: u32 = 48;
/// Largest packet size the data plane encrypts (IPv4 header + max payload).
pub(crate) const MAX_SIZE: u32 = 20 + BPFCRYPT_MAX_PLAIN;

/// Settings of the micro level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MicroPlan {
    /// Measured rounds.
    pub(crate) rounds: u32,
    /// Discarded rounds.
    pub(crate) warmup_rounds: u32,
    /// Target round duration, ms.
    pub(crate) round_ms: u64,
}

/// Settings of the raw cipher baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CipherPlan {
    /// Measured rounds.
    pub(crate) rounds: u32,
    /// Discarded rounds.
    pub(crate) warmup_rounds: u32,
    /// Target round duration, ms.
    pub(crate) round_ms: u64,
    /// Bytes per operation.
    pub(crate) bulk_bytes: u32,
}

/// Settings of the hardware reference (userspace AES).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HardwarePlan {
    /// Measured rounds.
    pub(crate) rounds: u32,
    /// Target round duration, ms.
    pub(crate) round_ms: u64,
}

/// Settings of one end-to-end protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FlowPlan {
    /// Measured rounds per point.
    pub(crate) rounds: u32,
    /// Discarded warm-up, ms.
    pub(crate) warmup_ms: u64,
    /// Sending time per round, ms.
    pub(crate) duration_ms: u64,
    /// Port.
    pub(crate) port: u16,
}

/// TCP settings: a flow plan and the offload modes to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TcpPlan {
    /// Rounds, durations, port.
    pub(crate) flow: FlowPlan,
    /// Offload modes, in order.
    pub(crate) offloads: Vec<OffloadMode>,
}

/// A named set of veth offload switches (applied on both ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum OffloadMode {
    /// TSO, GSO and TX checksum offload on (veth defaults).
    On,
    /// All three off.
    Off,
    /// TSO and GSO off, TX checksum offload on.
    SegmentationOff,
}

impl OffloadMode {
    /// Name as written in files.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OffloadMode::On => "on",
            OffloadMode::Off => "off",
            OffloadMode::SegmentationOff => "segmentation-off",
        }
    }

    /// `(tso, gso, tx_csum)`.
    pub(crate) fn switches(self) -> (bool, bool, bool) {
        match self {
            OffloadMode::On => (true, true, true),
            OffloadMode::Off => (false, false, false),
            OffloadMode::SegmentationOff => (false, false, true),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::On, Self::Off, Self::SegmentationOff]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The lab's own VM loop: how long a user waits for a scenario on a
/// catalog kernel, phase by phase, and for a matrix (targets: ≤ 4 s and
/// ≤ 12 s, reported, not enforced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VmLoopPlan {
    /// Catalog kernel.
    pub(crate) kernel: String,
    /// Scenario file, as the lab will open it.
    pub(crate) scenario: String,
    /// Timed runs of the scenario.
    pub(crate) rounds: u32,
    /// Catalog kernels of the timed matrix (the host is added).
    pub(crate) matrix: Vec<String>,
}

/// A validated bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BenchPlan {
    /// Name.
    pub(crate) name: String,
    /// Description.
    pub(crate) description: String,
    /// File as given.
    pub(crate) source: String,
    /// Left end.
    pub(crate) left: IfAddr,
    /// Right end.
    pub(crate) right: IfAddr,
    /// Wire MTU of the veth.
    pub(crate) mtu: u32,
    /// AES key.
    pub(crate) key: Vec<u8>,
    /// ChaCha20-Poly1305 key (32 bytes); a bench.json written before it
    /// existed reads as empty (a report needs no key).
    #[serde(default)]
    pub(crate) chacha20_key: Vec<u8>,
    /// Packet sizes, ascending.
    pub(crate) sizes: Vec<u32>,
    /// Data plane variants (never `none`; the end-to-end part adds it).
    pub(crate) variants: Vec<BenchVariant>,
    /// AES drivers the variants of a format that takes one (raw's ecb and
    /// cbc) are also keyed with (micro).
    #[serde(default)]
    pub(crate) drivers: Vec<String>,
    /// The hardware reference, if wanted.
    #[serde(default)]
    pub(crate) hardware: Option<HardwarePlan>,
    /// Micro level, if wanted.
    pub(crate) micro: Option<MicroPlan>,
    /// Raw cipher baseline, if wanted.
    pub(crate) cipher: Option<CipherPlan>,
    /// UDP end to end, if wanted.
    pub(crate) udp: Option<FlowPlan>,
    /// TCP end to end, if wanted.
    pub(crate) tcp: Option<TcpPlan>,
    /// Whether `--quick` shortened the settings.
    pub(crate) quick: bool,
    /// The lab's own VM loop, if wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vm_loop: Option<VmLoopPlan>,
    /// A known regression built in on purpose (`--inject`), absent normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inject: Option<Inject>,
    /// The data plane objects a paired bench measures the candidate
    /// against (`--baseline`), absent normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<Box<Baseline>>,
    /// The user's object (`--dataplane`), measured in place of the lab's
    /// bounce build of its format (`dataplane.format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dataplane: Option<UserDataplane>,
}

/// A known regression the bench can build into the data plane, so that
/// `lab compare` can be shown to catch a real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Inject {
    /// The copy and raw crypto builds copy the payload once more per
    /// packet (noop and ESP have no such build and stay as they are).
    ExtraCopy,
}

impl Inject {
    /// Name as written in files and on the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Inject::ExtraCopy => "extra-copy",
        }
    }
}

impl BenchPlan {
    /// Address of one end.
    pub(crate) fn addr(&self, side: Side) -> IfAddr {
        match side {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }

    /// The key of `alg`: each cipher takes its own length, so the AES
    /// variants and ChaCha20-Poly1305 have a key each.
    pub(crate) fn key_of(&self, alg: Algorithm) -> &[u8] {
        match alg {
            Algorithm::EcbAes | Algorithm::CbcAes => &self.key,
            Algorithm::ChaCha20Poly1305 => &self.chacha20_key,
        }
    }

    /// The ciphers of the hardware reference: the AES modes always (the
    /// throughput plot's limit lines and the UDP table compare with them),
    /// ChaCha20-Poly1305 when a variant runs it.
    pub(crate) fn hardware_algorithms(&self) -> Vec<Algorithm> {
        let mut out = vec![Algorithm::EcbAes, Algorithm::CbcAes];
        let chacha = Algorithm::ChaCha20Poly1305;
        if self.variants.iter().any(|v| v.algorithm() == Some(chacha)) {
            out.push(chacha);
        }
        out
    }

    /// The route MTU of the test bed of `v`: the wire MTU less what our
    /// data plane adds; the kernel's stacks account for their own.
    pub(crate) fn inner_mtu(&self, v: BenchVariant) -> u32 {
        match v.kernel_stack() {
            Some(_) => self.mtu,
            None => self.mtu - overhead(v),
        }
    }

    /// Shortens rounds and durations for a fast smoke run (`--quick`);
    /// sizes and variants stay.
    /// The plan with `user`'s object (its format known) in place of the
    /// lab's bounce build of that format. The in-place variants of the
    /// format go (a user's object is one build), and so does the
    /// cipher-only part when the object lacks the maps its probe runs on.
    /// Returns what was left out, in words.
    pub(crate) fn with_dataplane(
        mut self,
        user: UserDataplane,
        format: Mode,
        probe_maps: bool,
    ) -> (Self, Vec<String>) {
        let mut dropped = Vec::new();
        self.variants.retain(|v| match v {
            BenchVariant::Lab {
                format: f,
                in_place: true,
                ..
            } if *f == format => {
                dropped.push(format!(
                    "variant `{}` (your object is one build)",
                    v.as_str()
                ));
                false
            }
            _ => true,
        });
        if !probe_maps && self.cipher.take().is_some() {
            dropped.push("the cipher part (the object has no `keys` and `scratch` maps)".into());
        }
        self.dataplane = Some(user);
        (self, dropped)
    }

    /// The user's object, if `build` is the one it replaces.
    pub(crate) fn user_object(&self, build: Build) -> Option<&[u8]> {
        let u = self.dataplane.as_ref()?;
        let format = u.format?;
        (build == Build::of(format, false)).then_some(u.bytes.as_slice())
    }

    pub(crate) fn quick(mut self) -> Self {
        if let Some(m) = &mut self.micro {
            m.rounds = m.rounds.min(3);
            m.warmup_rounds = m.warmup_rounds.min(1);
            m.round_ms = m.round_ms.min(8);
        }
        if let Some(c) = &mut self.cipher {
            c.rounds = c.rounds.min(3);
            c.warmup_rounds = c.warmup_rounds.min(1);
            c.round_ms = c.round_ms.min(8);
        }
        for f in [self.udp.as_mut(), self.tcp.as_mut().map(|t| &mut t.flow)]
            .into_iter()
            .flatten()
        {
            f.rounds = f.rounds.min(2);
            f.warmup_ms = f.warmup_ms.min(50);
            f.duration_ms = f.duration_ms.min(200);
        }
        if let Some(h) = &mut self.hardware {
            h.rounds = h.rounds.min(3);
            h.round_ms = h.round_ms.min(8);
        }
        if let Some(l) = &mut self.vm_loop {
            l.rounds = l.rounds.min(1);
        }
        self.quick = true;
        self
    }

    /// The data planes the micro level measures: every variant with a
    /// build (the kernel's pick of AES driver), then, once per named
    /// driver, the variants whose format keys with one (raw's ecb and cbc),
    /// in report order.
    pub(crate) fn micro_planes(&self) -> Vec<(BenchVariant, Option<String>)> {
        let mut out: Vec<(BenchVariant, Option<String>)> = self
            .variants
            .iter()
            .filter(|v| v.build().is_some())
            .map(|v| (*v, None))
            .collect();
        let per_driver: Vec<BenchVariant> = BenchVariant::all()
            .iter()
            .copied()
            .filter(|v| self.variants.contains(v) && bounced_where(*v, |f| f.takes_aes_driver()))
            .collect();
        for d in &self.drivers {
            out.extend(per_driver.iter().map(|v| (*v, Some(d.clone()))));
        }
        out
    }

    /// Whether `(v, driver)` gets the crypto-only program (the cipher
    /// limit), per driver: a bounced build whose format lends its `keys`
    /// and `scratch` maps to it (raw's); one figure per cipher, so not the
    /// in-place twin.
    pub(crate) fn has_cipher_limit(v: BenchVariant) -> bool {
        bounced_where(v, |f| f.abi().cipher_probe)
    }

    /// Rough wall time of a run on one target, seconds (for VM time limits).
    pub(crate) fn estimated_secs(&self) -> f64 {
        let sizes = self.sizes.len() as f64;
        let variants = self.variants.len() as f64;
        let planes = self.micro_planes();
        let mut t = 0.0;
        // A paired bench measures each of our builds twice.
        let arms = if self.baseline.is_some() { 2.0 } else { 1.0 };
        if let Some(m) = &self.micro {
            let rounds = (m.rounds + m.warmup_rounds) as f64 + 0.5;
            t += arms * planes.len() as f64 * 2.0 * sizes * rounds * m.round_ms as f64 / 1000.0;
        }
        if let Some(h) = &self.hardware {
            let passes = 2.0 * self.hardware_algorithms().len() as f64;
            t += passes * sizes * (h.rounds as f64 + 1.0) * h.round_ms as f64 / 1000.0;
        }
        if let Some(c) = &self.cipher {
            let crypto = planes
                .iter()
                .filter(|(v, _)| Self::has_cipher_limit(*v))
                .count() as f64;
            let rounds = (c.rounds + c.warmup_rounds) as f64 + 0.5;
            t += crypto * 2.0 * sizes * rounds * c.round_ms as f64 / 1000.0;
        }
        if let Some(u) = &self.udp {
            let per = (u.warmup_ms + u.rounds as u64 * (u.duration_ms + 100)) as f64 / 1000.0;
            t += (arms * variants + 1.0) * sizes * per + (arms * variants + 1.0) * 0.5;
        }
        if let Some(tc) = &self.tcp {
            let f = &tc.flow;
            let per = (f.warmup_ms + f.rounds as u64 * (f.duration_ms + 300)) as f64 / 1000.0;
            t += (variants + 1.0) * tc.offloads.len() as f64 * (per + 0.5);
        }
        t
    }
}

/// Whether `v` is a bounced build of the lab's data plane in a format that
/// answers `asked` with yes.
fn bounced_where(v: BenchVariant, asked: impl Fn(&dyn WireFormat) -> bool) -> bool {
    match v {
        BenchVariant::Lab {
            in_place: false, ..
        } => format::of_variant(v).is_some_and(|(f, _)| asked(f)),
        _ => false,
    }
}

/// The most bytes the variant adds to a packet on the wire: the veth
/// MTU must hold a packet of the bench's largest size plus this.
pub(crate) fn overhead(v: BenchVariant) -> u32 {
    match v {
        BenchVariant::NoProgram | BenchVariant::Noop | BenchVariant::Copy => 0,
        BenchVariant::Lab { format, .. } => format::of(format).overhead(),
        BenchVariant::Kernel(KernelStack::EspCbcCmac) => ESP_OVERHEAD,
        // SPI, sequence, 8-byte IV, up to 3 bytes of padding, pad
        // length, next header, 16-byte ICV.
        BenchVariant::Kernel(KernelStack::EspGcm) => 8 + 8 + 3 + 2 + 16,
        // Linux's own allowance: outer IPv6 and UDP headers, the
        // WireGuard header and tag, padding to 16 bytes.
        BenchVariant::Kernel(KernelStack::WireGuard) => 80,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A micro and cipher bench of `variants` and `drivers`, as a file
    /// names them.
    fn plan(variants: &str, drivers: &str) -> BenchPlan {
        let text = format!(
            "version: 1\nname: b\nsizes: [1500]\nvariants: [{variants}]\n\
             drivers: [{drivers}]\nmicro: {{ rounds: 3 }}\ncipher: {{}}\n"
        );
        super::super::bench::parse(Path::new("b.yaml"), &text).unwrap()
    }

    /// Every build once with the kernel's driver, then per named driver
    /// the raw bounce builds in report order (ecb before cbc, whatever the
    /// file's order): not the in-place, ESP or WireGuard builds.
    #[test]
    fn the_driver_dimension_takes_the_raw_bounce_builds() {
        let every = "wireguard, wireguard (bpf), esp in place, esp, cbc(aes) in place, \
                     ecb(aes) in place, cbc(aes), ecb(aes), copy, noop";
        let p = plan(every, "aes-generic, aes-aesni");
        let builds: Vec<(BenchVariant, Option<String>)> = p
            .variants
            .iter()
            .filter(|v| v.build().is_some())
            .map(|v| (*v, None))
            .collect();
        assert_eq!(builds.len(), 9, "{builds:?}");
        let d = |v, name: &str| (v, Some(name.to_string()));
        let planes = p.micro_planes();
        assert_eq!(planes[..builds.len()], builds[..]);
        assert_eq!(
            planes[builds.len()..],
            [
                d(BenchVariant::Ecb, "aes-generic"),
                d(BenchVariant::Cbc, "aes-generic"),
                d(BenchVariant::Ecb, "aes-aesni"),
                d(BenchVariant::Cbc, "aes-aesni"),
            ]
        );
        let p = plan("esp, cbc(aes) in place, cbc(aes)", "aes-generic");
        assert_eq!(
            p.micro_planes(),
            [
                (BenchVariant::Cbc, None),
                (BenchVariant::CbcInPlace, None),
                (BenchVariant::Esp, None),
                d(BenchVariant::Cbc, "aes-generic"),
            ]
        );
        let p = plan("esp, ecb(aes) in place, wireguard (bpf)", "aes-generic");
        assert!(p.micro_planes().iter().all(|(_, d)| d.is_none()));
    }

    /// The cipher limit is the raw bounce builds' alone (the cipher-only
    /// program runs on their maps), and counts in the time estimate.
    #[test]
    fn the_cipher_limit_is_the_raw_bounce_builds() {
        let limited: Vec<BenchVariant> = BenchVariant::all()
            .iter()
            .copied()
            .filter(|v| BenchPlan::has_cipher_limit(*v))
            .collect();
        assert_eq!(limited, [BenchVariant::Ecb, BenchVariant::Cbc]);
        let with = plan("cbc(aes), esp", "aes-generic");
        let mut without = with.clone();
        without.cipher = None;
        assert!(with.estimated_secs() > without.estimated_secs());
        let esp_only = plan("esp, cbc(aes) in place", "aes-generic");
        let mut no_cipher = esp_only.clone();
        no_cipher.cipher = None;
        assert_eq!(esp_only.estimated_secs(), no_cipher.estimated_secs());
    }
}
