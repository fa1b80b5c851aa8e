//! The report's opening: findings in words, each sentence computed from
//! the figures of one target and carrying them, with the TCG caveat where
//! the CPU was emulated. Nothing here is written by hand.

use crate::domain::{Algorithm, BenchVariant, Direction, Mode};
use crate::job::bench::{TargetResult, UdpPoint};
use crate::job::stats::Stats;

/// `wireguard (bpf)`: the WireGuard data plane, ChaCha20-Poly1305 in BPF C.
pub(crate) const WG_BPF: BenchVariant = BenchVariant::Lab {
    format: Mode::named("wireguard"),
    algorithm: Algorithm::ChaCha20Poly1305,
    in_place: false,
};

/// The packet size of the WireGuard egress target: at most half the
/// cbc(aes) egress program's time per packet (reported, not enforced).
const WG_TARGET_SIZE: u32 = 1500;

/// µs with two significant decimals.
fn us(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// The median of a figure that passed its checks.
fn median(s: &Option<Stats>) -> Option<f64> {
    s.as_ref().map(|s| s.median)
}

/// ns per packet of a data plane program (the kernel's AES driver).
fn micro(t: &TargetResult, v: BenchVariant, d: Direction, size: u32) -> Option<f64> {
    t.micro_at(v, d, size)
        .filter(|m| m.check.ok)
        .and_then(|m| median(&m.ns))
}

/// The findings of one target at the bench's sizes.
pub(crate) fn of(t: &TargetResult, sizes: &[u32]) -> Vec<String> {
    let Some(&big) = sizes.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(u) = &t.unsupported {
        return vec![format!("Nothing was measured: {u}")];
    }
    out.extend(cost_shares(t, sizes));
    out.extend(against_kfunc(t, sizes));
    out.extend(decrypt_vs_encrypt(t, big));
    out.extend(drivers(t, big));
    out.extend(mac_and_in_place(t, big));
    out.extend(alternatives(t, big));
    out.extend(wireguard(t, big));
    out.extend(wireguard_target(t, sizes));
    out.extend(hardware(t, big));
    out.extend(spread(t));
    for u in &t.unavailable {
        out.push(format!(
            "Unavailable on this kernel: {} ({}).",
            u.what, u.reason
        ));
    }
    if t.env.emulated {
        out.push(
            "TCG caveat: this target ran under QEMU TCG, an emulated CPU (every instruction, AES-NI included, is translated); \
             ratios between variants on it are indicative, absolute figures are not hardware's."
                .into(),
        );
    }
    out
}

/// The copy's and the cipher's share of cbc(aes) encryption, per size.
fn cost_shares(t: &TargetResult, sizes: &[u32]) -> Option<String> {
    let parts: Vec<String> = sizes
        .iter()
        .filter_map(|&s| {
            let total = micro(t, BenchVariant::Cbc, Direction::Egress, s)?;
            let noop = micro(t, BenchVariant::Noop, Direction::Egress, s).unwrap_or(0.0);
            let copy = micro(t, BenchVariant::Copy, Direction::Egress, s)? - noop;
            let kfunc = median(&t.cipher_at(Algorithm::CbcAes, Direction::Egress, s)?.ns)?;
            Some(format!(
                "{s} B: copy {} ({}), cipher {} ({})",
                pct(copy.max(0.0) / total),
                us(copy.max(0.0)),
                pct(kfunc / total),
                us(kfunc)
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "Where the time of cbc(aes) encryption goes (share of the egress program's time): {}. \
             The two copies of the payload are not the main cost; the cipher is.",
            parts.join("; ")
        )
    })
}

/// The data plane against the cipher kfunc alone (target ≥ 90 % at every size).
fn against_kfunc(t: &TargetResult, sizes: &[u32]) -> Option<String> {
    let ratios: Vec<(u32, f64)> = t
        .micro
        .iter()
        .filter(|m| {
            m.driver.is_none() && matches!(m.variant, BenchVariant::Ecb | BenchVariant::Cbc)
        })
        .filter_map(|m| Some((m.size, m.ratio_to_cipher?)))
        .filter(|(s, _)| sizes.contains(s))
        .collect();
    let (worst_size, worst) = ratios.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let best = ratios.iter().map(|r| r.1).fold(0.0, f64::max);
    let verdict = if worst >= 0.9 {
        "meets the ≥ 90 % target at every size".to_string()
    } else {
        format!("misses the ≥ 90 % target at {worst_size} B")
    };
    Some(format!(
        "The raw data plane runs at {}–{} of the kfunc-alone speed (ecb and cbc, both directions, every size): it {verdict}.",
        pct(worst),
        pct(best)
    ))
}

fn decrypt_vs_encrypt(t: &TargetResult, big: u32) -> Option<String> {
    let ratios: Vec<(BenchVariant, f64, f64)> = [BenchVariant::Ecb, BenchVariant::Cbc]
        .iter()
        .filter_map(|&v| {
            let e = micro(t, v, Direction::Egress, big)?;
            let d = micro(t, v, Direction::Ingress, big)?;
            Some((v, d, e))
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let parts: Vec<String> = ratios
        .iter()
        .map(|(v, d, e)| format!("{} {:.1}× ({} vs {})", v.as_str(), d / e, us(*d), us(*e)))
        .collect();
    let verb = if ratios.iter().all(|(_, d, e)| d / e > 1.05) {
        "costs more than"
    } else if ratios.iter().all(|(_, d, e)| d / e < 0.95) {
        "costs less than"
    } else {
        "costs about as much as"
    };
    Some(format!(
        "Decryption {verb} encryption at {big} B: {}.",
        parts.join(", ")
    ))
}

fn drivers(t: &TargetResult, big: u32) -> Option<String> {
    let mut named: Vec<(String, f64)> = t
        .micro
        .iter()
        .filter(|m| {
            m.size == big && m.variant == BenchVariant::Cbc && m.direction == Direction::Egress
        })
        .filter(|m| m.check.ok)
        .filter_map(|m| {
            Some((
                m.driver.clone().unwrap_or_else(|| "kernel's pick".into()),
                median(&m.ns)?,
            ))
        })
        .collect();
    if named.len() < 2 {
        return None;
    }
    named.sort_by(|a, b| a.1.total_cmp(&b.1));
    let list: Vec<String> = named
        .iter()
        .map(|(d, ns)| format!("{d} {}", us(*ns)))
        .collect();
    let (fast, slow) = (&named[0], &named[named.len() - 1]);
    Some(format!(
        "Fastest AES driver for cbc(aes) encryption at {big} B: {} ({:.1}× faster than {}); all: {}. \
         aes-generic is table-based and not constant-time; aes-fixed-time is; aes-lib (7.0+) is the AES library, one block at a time with AES-NI where the CPU has it.",
        fast.0,
        slow.1 / fast.1,
        slow.0,
        list.join(", ")
    ))
}

fn mac_and_in_place(t: &TargetResult, big: u32) -> Vec<String> {
    let mut out = Vec::new();
    let pair = |a: BenchVariant, b: BenchVariant, d: Direction| {
        Some((micro(t, a, d, big)?, micro(t, b, d, big)?))
    };
    if let (Some((esp_e, cbc_e)), Some((esp_i, cbc_i))) = (
        pair(BenchVariant::Esp, BenchVariant::Cbc, Direction::Egress),
        pair(BenchVariant::Esp, BenchVariant::Cbc, Direction::Ingress),
    ) {
        out.push(format!(
            "The MAC's cost at {big} B: ESP (AES-CBC + AES-CMAC-96) takes {} to send and {} to receive, \
             raw cbc(aes) {} and {}: {:.1}× and {:.1}× (the CMAC is a second CBC pass).",
            us(esp_e),
            us(esp_i),
            us(cbc_e),
            us(cbc_i),
            esp_e / cbc_e,
            esp_i / cbc_i
        ));
    }
    for (ip, bounce) in [
        (BenchVariant::CbcInPlace, BenchVariant::Cbc),
        (BenchVariant::EspInPlace, BenchVariant::Esp),
    ] {
        if let (Some((a, b)), Some((c, d))) = (
            pair(ip, bounce, Direction::Egress),
            pair(ip, bounce, Direction::Ingress),
        ) {
            out.push(format!(
                "In place against bounce at {big} B ({}): egress {} vs {} ({:+.0} %), ingress {} vs {} ({:+.0} %).",
                bounce.as_str(),
                us(a),
                us(b),
                (a / b - 1.0) * 100.0,
                us(c),
                us(d),
                (c / d - 1.0) * 100.0
            ));
        }
    }
    out
}

/// The data plane against the kernel's ESP and WireGuard over UDP.
fn alternatives(t: &TargetResult, big: u32) -> Option<String> {
    let at = |v: BenchVariant| -> Option<&UdpPoint> {
        t.udp
            .iter()
            .find(|u| u.variant == v && u.size == big && u.check.ok)
    };
    let fmt = |v: BenchVariant| {
        let u = at(v)?;
        Some(format!(
            "{} {:.1} kpps at {} CPU per packet",
            v.as_str(),
            median(&u.pps)? / 1000.0,
            us(median(&u.cpu_ns_per_packet)?)
        ))
    };
    let ours: Vec<String> = [
        BenchVariant::Ecb,
        BenchVariant::EcbInPlace,
        BenchVariant::Cbc,
        BenchVariant::CbcInPlace,
        BenchVariant::Esp,
        BenchVariant::EspInPlace,
        WG_BPF,
    ]
    .into_iter()
    .filter_map(fmt)
    .collect();
    let theirs: Vec<String> = [
        BenchVariant::XfrmCbcCmac,
        BenchVariant::XfrmGcm,
        BenchVariant::WireGuard,
    ]
    .into_iter()
    .filter_map(fmt)
    .collect();
    if ours.is_empty() {
        return None;
    }
    let other = if theirs.is_empty() {
        "the kernel's ESP and WireGuard were not measured on this kernel (see Unavailable)"
            .to_string()
    } else {
        format!("what a user would pick instead: {}", theirs.join("; "))
    };
    Some(format!(
        "UDP at {big} B (CPU = all CPUs' busy time per delivered packet): ours {}; {other}.",
        ours.join("; ")
    ))
}

/// UDP packets/s and CPU ns per packet of `v` at `size`, if it held.
fn udp_at(t: &TargetResult, v: BenchVariant, size: u32) -> Option<(f64, f64)> {
    let u = t
        .udp
        .iter()
        .find(|u| u.variant == v && u.size == size && u.check.ok)?;
    Some((median(&u.pps)?, median(&u.cpu_ns_per_packet)?))
}

/// Pure-BPF ChaCha20-Poly1305 (`wireguard (bpf)`) on the same kernel as
/// bpf_crypto AES-CBC (raw, unauthenticated) and AES-CBC + AES-CMAC-96
/// (ESP): their egress programs, userspace ChaCha20-Poly1305, and over
/// UDP the kernel's WireGuard beside them.
fn wireguard(t: &TargetResult, big: u32) -> Option<String> {
    let egress = micro(t, WG_BPF, Direction::Egress, big);
    let udp = |v: BenchVariant| {
        let (pps, cpu) = udp_at(t, v, big)?;
        Some(format!(
            "{} {:.1} kpps at {} CPU per packet",
            v.as_str(),
            pps / 1000.0,
            us(cpu)
        ))
    };
    let ours = udp(WG_BPF);
    if egress.is_none() && ours.is_none() {
        return None;
    }
    let mut out = Vec::new();
    if let Some(wg) = egress {
        let ingress = micro(t, WG_BPF, Direction::Ingress, big)
            .map(|i| format!(" (ingress {})", us(i)))
            .unwrap_or_default();
        let mut line = format!(
            "Pure-BPF ChaCha20-Poly1305 against bpf_crypto AES at {big} B, egress program per packet: {} {}{ingress}",
            WG_BPF.as_str(),
            us(wg)
        );
        for (v, what) in [
            (BenchVariant::Cbc, "AES-CBC, no MAC"),
            (BenchVariant::Esp, "AES-CBC + AES-CMAC-96"),
        ] {
            if let Some(aes) = micro(t, v, Direction::Egress, big) {
                line += &format!(
                    ", {} {} ({what}; {} takes {:.2}× its time)",
                    v.as_str(),
                    us(aes),
                    WG_BPF.as_str(),
                    wg / aes
                );
            }
        }
        let chacha = Algorithm::ChaCha20Poly1305;
        if let Some(hw) = t
            .hardware
            .iter()
            .find(|h| h.algorithm == chacha && h.direction == Direction::Egress && h.size == big)
            && let Some(hw_ns) = median(&hw.ns)
        {
            line += &format!(
                "; userspace ChaCha20-Poly1305 ({}) seals the packet in {}: the program takes {:.1}× that",
                hw.implementation,
                us(hw_ns),
                wg / hw_ns
            );
        }
        out.push(line + ".");
    }
    if let Some(ours) = ours {
        let aes: Vec<String> = [BenchVariant::Cbc, BenchVariant::Esp]
            .into_iter()
            .filter_map(udp)
            .collect();
        let kernel = BenchVariant::WireGuard;
        let kernel = match udp(kernel) {
            Some(k) => format!("; the kernel's {k}"),
            None if t.unavailable.iter().any(|u| u.what == kernel.as_str()) => {
                "; the kernel's wireguard is unavailable on this kernel (see below)".into()
            }
            None => String::new(),
        };
        let aes = if aes.is_empty() {
            String::new()
        } else {
            format!("; bpf_crypto {}", aes.join(", "))
        };
        out.push(format!(
            "Over UDP at {big} B on the same kernel: {ours}{aes}{kernel}."
        ));
    }
    Some(out.join(" "))
}

/// The WireGuard egress target at 1500 B: the `wireguard (bpf)` egress
/// program per packet against half of the `cbc(aes)` one, met or missed.
fn wireguard_target(t: &TargetResult, sizes: &[u32]) -> Option<String> {
    let s = WG_TARGET_SIZE;
    if !sizes.contains(&s) {
        return None;
    }
    let wg = micro(t, WG_BPF, Direction::Egress, s)?;
    let cbc = micro(t, BenchVariant::Cbc, Direction::Egress, s)?;
    let verdict = if wg <= cbc / 2.0 { "met" } else { "missed" };
    Some(format!(
        "WireGuard egress target at {s} B (reported, not enforced: at most half the cbc(aes) egress program per packet): \
         {} {} against cbc(aes) {}, half of it {}: {verdict} ({:.2}× the cbc(aes) time).",
        WG_BPF.as_str(),
        us(wg),
        us(cbc),
        us(cbc / 2.0),
        wg / cbc
    ))
}

/// The distance to userspace AES on one core.
fn hardware(t: &TargetResult, big: u32) -> Option<String> {
    let hw = t.hardware.iter().find(|h| {
        h.algorithm == Algorithm::CbcAes && h.direction == Direction::Egress && h.size == big
    })?;
    let hw_ns = median(&hw.ns)?;
    let dp = micro(t, BenchVariant::Cbc, Direction::Egress, big)?;
    let kf = t
        .cipher_at(Algorithm::CbcAes, Direction::Egress, big)
        .and_then(|c| median(&c.ns));
    Some(format!(
        "The hardware limit: {} encrypts the {big} B packet's cbc(aes) bytes in {} ({:.2} Gbit/s); \
         the data plane needs {} ({:.1}× that){}.",
        hw.implementation,
        us(hw_ns),
        median(&hw.gbps).unwrap_or(0.0),
        us(dp),
        dp / hw_ns,
        kf.map(|k| format!(", the kfunc alone {} ({:.1}×)", us(k), k / hw_ns))
            .unwrap_or_default()
    ))
}

/// The micro level's worst spread against the 5 % target.
fn spread(t: &TargetResult) -> Option<String> {
    let worst = t
        .micro
        .iter()
        .filter(|m| m.check.ok)
        .filter_map(|m| {
            let s = m.ns.as_ref()?;
            (s.median > 0.0).then(|| ((s.max - s.min) / s.median, m.label(), m.direction, m.size))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    let verdict = if worst.0 <= 0.05 { "within" } else { "over" };
    Some(format!(
        "Micro spread (max − min) / median: worst {} ({} {} {} B), {verdict} the 5 % target.",
        pct(worst.0),
        worst.1,
        worst.2.as_str(),
        worst.3
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The saved host bench (no WireGuard in it) with a `wireguard (bpf)`
    /// egress figure of `ns` at 1500 B beside its cbc(aes) one.
    fn host_with_wireguard(ns: Option<f64>) -> TargetResult {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-host.json");
        let mut t = crate::output::bench_doc::load(&path).unwrap().targets[0].clone();
        if let Some(ns) = ns {
            let mut m = t
                .micro_at(BenchVariant::Cbc, Direction::Egress, 1500)
                .unwrap()
                .clone();
            m.variant = WG_BPF;
            m.ns = Stats::of(&[ns]);
            t.micro.push(m);
        }
        t
    }

    #[test]
    fn the_wireguard_target_is_half_the_cbc_egress_program() {
        let sizes = [64, 512, 1500];
        let cbc = micro(
            &host_with_wireguard(None),
            BenchVariant::Cbc,
            Direction::Egress,
            1500,
        )
        .unwrap();
        assert!(wireguard_target(&host_with_wireguard(None), &sizes).is_none());
        assert!(wireguard(&host_with_wireguard(None), 1500).is_none());
        for (ns, verdict) in [(cbc * 0.49, ": met ("), (cbc * 0.51, ": missed (")] {
            let t = host_with_wireguard(Some(ns));
            let line = wireguard_target(&t, &sizes).unwrap();
            let figures = format!(
                "wireguard (bpf) {} against cbc(aes) {}, half of it {}",
                us(ns),
                us(cbc),
                us(cbc / 2.0)
            );
            assert!(line.contains(&figures) && line.contains(verdict), "{line}");
            // Reported at 1500 B only.
            assert!(wireguard_target(&t, &[64, 512]).is_none());
            let comparison = wireguard(&t, 1500).unwrap();
            let ratio = format!("{} takes {:.2}× its time", WG_BPF.as_str(), ns / cbc);
            assert!(comparison.contains(&ratio), "{comparison}");
        }
    }
}
