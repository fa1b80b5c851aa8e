//! The report's opening: findings in words, each sentence computed from
//! the figures of one target and carrying them, with the TCG caveat where
//! the CPU was emulated. Nothing here is written by hand.

use crate::domain::{Algorithm, BenchVariant, Direction};
use crate::job::bench::{TargetResult, UdpPoint};
use crate::job::stats::Stats;

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
