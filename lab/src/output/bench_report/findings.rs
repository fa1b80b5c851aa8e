//! The report's opening: findings in words, each sentence computed from
//! the figures of one target and carrying them, with the TCG caveat where
//! the CPU was emulated. Nothing here is written by hand. The raw format's
//! `cbc(aes)` is the reference every other format is weighed against; what
//! a format adds over it, the kernel's stacks it is weighed against and its
//! targets are the format's (`WireFormat::bench_adds` and after).

use crate::dataplane::format::{self, WireFormat};
use crate::domain::{Algorithm, BenchVariant, Direction, KernelStack};
use crate::job::bench::TargetResult;
use crate::job::stats::Stats;

/// The reference: the raw data plane with `cbc(aes)`, bounced.
const REFERENCE: BenchVariant = BenchVariant::Cbc;

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
    out.extend(in_place(t, big));
    out.extend(alternatives(t, big));
    for (f, adds) in weighed_formats() {
        for v in bounced(f) {
            out.extend(against_reference(t, v, adds, big));
            out.extend(against_rivals(t, f, v, big));
            out.extend(egress_target(t, f, v, sizes));
        }
    }
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

/// The bounced variants of format `f` (the ones weighed and targeted), in
/// report order.
fn bounced(f: &'static dyn WireFormat) -> impl Iterator<Item = BenchVariant> {
    f.variants()
        .iter()
        .filter(|v| !v.in_place)
        .map(move |v| BenchVariant::Lab {
            format: f.mode(),
            algorithm: v.algorithm,
            in_place: false,
        })
}

/// The formats weighed against the reference, with what each adds to it.
fn weighed_formats() -> impl Iterator<Item = (&'static dyn WireFormat, &'static str)> {
    format::ALL
        .iter()
        .filter_map(|&f| Some((f, f.bench_adds()?)))
}

/// Each in-place build against its bounced twin, both directions.
fn in_place(t: &TargetResult, big: u32) -> Vec<String> {
    let mut out = Vec::new();
    for &ip in BenchVariant::all() {
        let Some(bounce) = ip.bounced_twin() else {
            continue;
        };
        let pair = |d: Direction| Some((micro(t, ip, d, big)?, micro(t, bounce, d, big)?));
        if let (Some((a, b)), Some((c, d))) = (pair(Direction::Egress), pair(Direction::Ingress)) {
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

/// `v`'s UDP figure at `size`, as the sentences print it.
fn udp_words(t: &TargetResult, v: BenchVariant, size: u32) -> Option<String> {
    let (pps, cpu) = udp_at(t, v, size)?;
    Some(format!(
        "{} {:.1} kpps at {} CPU per packet",
        v.as_str(),
        pps / 1000.0,
        us(cpu)
    ))
}

/// The data plane against the kernel's stacks over UDP: every variant of
/// ours, then every kernel stack measured.
fn alternatives(t: &TargetResult, big: u32) -> Option<String> {
    let ours: Vec<String> = BenchVariant::all()
        .iter()
        .filter(|v| format::of_variant(**v).is_some())
        .filter_map(|v| udp_words(t, *v, big))
        .collect();
    let theirs: Vec<String> = KernelStack::ALL
        .into_iter()
        .filter_map(|k| udp_words(t, BenchVariant::Kernel(k), big))
        .collect();
    if ours.is_empty() {
        return None;
    }
    let other = if theirs.is_empty() {
        let names: Vec<&str> = KernelStack::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "the kernel's stacks ({}) were not measured on this kernel (see Unavailable)",
            names.join(", ")
        )
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

/// What `v` (a format that `adds` to the reference) costs against the
/// raw `cbc(aes)` on the same kernel, per program and packet: both
/// directions, the other formats' egress programs, and userspace's
/// implementation of a cipher other than the reference's.
fn against_reference(t: &TargetResult, v: BenchVariant, adds: &str, big: u32) -> Option<String> {
    let name = v.as_str();
    let egress = micro(t, v, Direction::Egress, big)?;
    let ingress = micro(t, v, Direction::Ingress, big);
    let mut line = format!(
        "{name} ({adds}) against the raw {} reference at {big} B, program per packet: {name} egress {}",
        REFERENCE.as_str(),
        us(egress)
    );
    if let Some(i) = ingress {
        line += &format!(", ingress {}", us(i));
    }
    if let Some(re) = micro(t, REFERENCE, Direction::Egress, big) {
        line += &format!("; {} egress {}", REFERENCE.as_str(), us(re));
        let ri = micro(t, REFERENCE, Direction::Ingress, big);
        if let Some(ri) = ri {
            line += &format!(", ingress {}", us(ri));
        }
        line += &format!(": {name} takes {:.2}× its time", egress / re);
        if let (Some(i), Some(ri)) = (ingress, ri) {
            line += &format!(" to send and {:.2}× to receive", i / ri);
        }
    }
    let others = weighed_formats()
        .flat_map(|(f, _)| bounced(f))
        .filter(|o| *o != v);
    for o in others {
        if let Some(oe) = micro(t, o, Direction::Egress, big) {
            line += &format!(
                "; {} egress {} ({name} takes {:.2}× its time)",
                o.as_str(),
                us(oe),
                egress / oe
            );
        }
    }
    if let Some(alg) = v.algorithm().filter(|a| Some(*a) != REFERENCE.algorithm())
        && let Some(hw) = t
            .hardware
            .iter()
            .find(|h| h.algorithm == alg && h.direction == Direction::Egress && h.size == big)
        && let Some(hw_ns) = median(&hw.ns)
    {
        line += &format!(
            "; userspace {} ({}) encrypts the packet in {}: the egress program takes {:.1}× that",
            alg.kernel_name(),
            hw.implementation,
            us(hw_ns),
            egress / hw_ns
        );
    }
    Some(line + ".")
}

/// `v` of format `f` against the kernel's stacks `f` names over UDP on the
/// same kernel, beside the reference; a stack the kernel lacks is said.
fn against_rivals(
    t: &TargetResult,
    f: &dyn WireFormat,
    v: BenchVariant,
    big: u32,
) -> Option<String> {
    let rivals = f.bench_rivals();
    if rivals.is_empty() {
        return None;
    }
    let ours = udp_words(t, v, big)?;
    let mut line = format!("Over UDP at {big} B on the same kernel: {ours}");
    if let Some(r) = udp_words(t, REFERENCE, big) {
        line += &format!("; raw {r}");
    }
    for &k in rivals {
        let stack = BenchVariant::Kernel(k);
        match udp_words(t, stack, big) {
            Some(theirs) => line += &format!("; the kernel's {theirs}"),
            None if t.unavailable.iter().any(|u| u.what == stack.as_str()) => {
                line += &format!(
                    "; the kernel's {} is unavailable on this kernel (see below)",
                    stack.as_str()
                )
            }
            None => {}
        }
    }
    Some(line + ".")
}

/// Format `f`'s egress target for `v`, if it has one at a size of the
/// bench: `v`'s egress program per packet against that share of the
/// reference's, met or missed (reported, not enforced).
fn egress_target(
    t: &TargetResult,
    f: &dyn WireFormat,
    v: BenchVariant,
    sizes: &[u32],
) -> Option<String> {
    let (s, most) = f.egress_target()?;
    if !sizes.contains(&s) {
        return None;
    }
    let ours = micro(t, v, Direction::Egress, s)?;
    let reference = micro(t, REFERENCE, Direction::Egress, s)?;
    let allowed = reference * most;
    let verdict = if ours <= allowed { "met" } else { "missed" };
    let (name, r) = (v.as_str(), REFERENCE.as_str());
    Some(format!(
        "{name} egress target at {s} B (reported, not enforced: at most {most}× the {r} egress program per packet): \
         {name} {} against {r} {}, {most}× of it {}: {verdict} ({:.2}× the {r} time).",
        us(ours),
        us(reference),
        us(allowed),
        ours / reference
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
    use crate::job::bench::{HardwarePoint, Unavailable};

    const SIZES: [u32; 3] = [64, 512, 1500];

    /// The saved host bench: the raw builds at 64, 512 and 1500 B, UDP of
    /// cbc(aes), nothing of the other formats or the kernel's stacks.
    fn host() -> TargetResult {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-host.json");
        crate::output::bench_doc::load(&path).unwrap().targets[0].clone()
    }

    /// Gives `v` a micro figure of `ns` in `d` at 1500 B (cbc(aes)'s,
    /// retimed).
    fn add_micro(t: &mut TargetResult, v: BenchVariant, d: Direction, ns: f64) {
        let mut m = t.micro_at(REFERENCE, d, 1500).unwrap().clone();
        m.variant = v;
        m.ns = Stats::of(&[ns]);
        t.micro.push(m);
    }

    /// Gives `v` a UDP figure at 1500 B (cbc(aes)'s, with `pps`).
    fn add_udp(t: &mut TargetResult, v: BenchVariant, pps: f64) {
        let mut u = t
            .udp
            .iter()
            .find(|u| u.variant == REFERENCE && u.size == 1500)
            .unwrap()
            .clone();
        u.variant = v;
        u.pps = Stats::of(&[pps]);
        t.udp.push(u);
    }

    /// The reference's median in `d` at 1500 B.
    fn reference(t: &TargetResult, d: Direction) -> f64 {
        micro(t, REFERENCE, d, 1500).unwrap()
    }

    /// The finding that starts with `start`, if one does.
    fn line(lines: &[String], start: &str) -> Option<String> {
        lines.iter().find(|l| l.starts_with(start)).cloned()
    }

    /// Each format beyond the reference is weighed against it in its own
    /// words, both directions with both figures, against the other
    /// formats' egress programs, and against userspace only for a cipher
    /// that is not the reference's (whose distance the hardware line has).
    #[test]
    fn each_format_is_weighed_against_the_reference_in_its_own_words() {
        let weighed: Vec<BenchVariant> = weighed_formats().flat_map(|(f, _)| bounced(f)).collect();
        assert!(!weighed.is_empty());
        let mut t = host();
        let (re, ri) = (
            reference(&t, Direction::Egress),
            reference(&t, Direction::Ingress),
        );
        for (k, &v) in weighed.iter().enumerate() {
            let scale = 2.0 + k as f64;
            add_micro(&mut t, v, Direction::Egress, re * scale);
            add_micro(&mut t, v, Direction::Ingress, ri * (scale + 0.5));
        }
        for &alg in &[Algorithm::CbcAes, Algorithm::ChaCha20Poly1305] {
            t.hardware.push(HardwarePoint {
                algorithm: alg,
                direction: Direction::Egress,
                size: 1500,
                ns: Stats::of(&[re / 4.0]),
                gbps: Stats::of(&[1.0]),
                implementation: "a userspace library".into(),
            });
        }
        let lines = of(&t, &SIZES);
        for (f, adds) in weighed_formats() {
            for v in bounced(f) {
                let name = v.as_str();
                let l = line(&lines, &format!("{name} ({adds}) against the raw cbc(aes)"))
                    .unwrap_or_else(|| panic!("no line of {name}: {lines:#?}"));
                let e = micro(&t, v, Direction::Egress, 1500).unwrap();
                let i = micro(&t, v, Direction::Ingress, 1500).unwrap();
                for want in [
                    format!("{name} egress {}, ingress {}", us(e), us(i)),
                    format!("cbc(aes) egress {}, ingress {}", us(re), us(ri)),
                    format!(
                        "{name} takes {:.2}× its time to send and {:.2}× to receive",
                        e / re,
                        i / ri
                    ),
                ] {
                    assert!(l.contains(&want), "`{want}` not in: {l}");
                }
                for o in weighed.iter().filter(|o| **o != v) {
                    let oe = micro(&t, *o, Direction::Egress, 1500).unwrap();
                    let want = format!(
                        "{} egress {} ({name} takes {:.2}×",
                        o.as_str(),
                        us(oe),
                        e / oe
                    );
                    assert!(l.contains(&want), "`{want}` not in: {l}");
                }
                let own_cipher = v.algorithm() != REFERENCE.algorithm();
                assert_eq!(l.contains("userspace"), own_cipher, "{l}");
                if own_cipher {
                    let want = format!("the egress program takes {:.1}× that", e / (re / 4.0));
                    assert!(l.contains(&want), "`{want}` not in: {l}");
                }
            }
        }
        // Without its figures, a format is not weighed.
        assert!(
            weighed_formats().all(|(f, adds)| bounced(f).all(|v| line(
                &of(&host(), &SIZES),
                &format!("{} ({adds})", v.as_str())
            )
            .is_none()))
        );
    }

    /// Over UDP each format meets the kernel's stacks it names: measured,
    /// unavailable (said), or neither (left out), beside the reference.
    #[test]
    fn each_format_meets_its_kernel_stacks_over_udp() {
        let mut met = 0;
        for (f, _) in weighed_formats() {
            for v in bounced(f) {
                let mut t = host();
                assert!(against_rivals(&t, f, v, 1500).is_none(), "no UDP figure");
                add_udp(&mut t, v, 12_345.0);
                let l = against_rivals(&t, f, v, 1500);
                let Some((first, rest)) = f.bench_rivals().split_first() else {
                    assert!(l.is_none(), "{l:?}");
                    continue;
                };
                let l = l.unwrap();
                let reference = udp_words(&t, REFERENCE, 1500).unwrap();
                assert!(l.contains(&format!("{} 12.3 kpps", v.as_str())), "{l}");
                assert!(l.contains(&format!("raw {reference}")), "{l}");
                assert!(!l.contains("the kernel's"), "{l}");
                t.unavailable.push(Unavailable {
                    what: BenchVariant::Kernel(*first).as_str().into(),
                    reason: "not in this kernel".into(),
                });
                for (k, r) in rest.iter().enumerate() {
                    add_udp(&mut t, BenchVariant::Kernel(*r), 1000.0 * (k + 2) as f64);
                }
                let l = against_rivals(&t, f, v, 1500).unwrap();
                let said = format!("the kernel's {} is unavailable", first.as_str());
                assert!(l.contains(&said), "{l}");
                for (k, r) in rest.iter().enumerate() {
                    let want = format!("the kernel's {} {}.0 kpps", r.as_str(), k + 2);
                    assert!(l.contains(&want), "`{want}` not in: {l}");
                }
                assert!(of(&t, &SIZES).contains(&l));
                met += 1;
            }
        }
        assert!(met > 0, "no format names a kernel stack");
    }

    /// A format's egress target: its egress program per packet against
    /// its share of the reference's at its size, met or missed, reported
    /// at that size only and never without both figures.
    #[test]
    fn an_egress_target_is_a_share_of_the_reference_egress_program() {
        let mut targeted = 0;
        for (f, _) in weighed_formats() {
            let Some((size, most)) = f.egress_target() else {
                continue;
            };
            assert!(SIZES.contains(&size), "the fixture has no {size} B figure");
            for v in bounced(f) {
                assert!(egress_target(&host(), f, v, &SIZES).is_none());
                let cbc = reference(&host(), Direction::Egress);
                for (ns, verdict) in [
                    (cbc * most * 0.98, ": met ("),
                    (cbc * most * 1.02, ": missed ("),
                ] {
                    let mut t = host();
                    add_micro(&mut t, v, Direction::Egress, ns);
                    let line = egress_target(&t, f, v, &SIZES).unwrap();
                    let figures = format!(
                        "{} {} against cbc(aes) {}, {most}× of it {}",
                        v.as_str(),
                        us(ns),
                        us(cbc),
                        us(cbc * most)
                    );
                    assert!(line.contains(&figures) && line.contains(verdict), "{line}");
                    assert!(line.contains(&format!("({:.2}× the cbc(aes) time)", ns / cbc)));
                    assert!(of(&t, &SIZES).contains(&line));
                    let others: Vec<u32> = SIZES.into_iter().filter(|s| *s != size).collect();
                    assert!(egress_target(&t, f, v, &others).is_none());
                }
                targeted += 1;
            }
        }
        assert!(targeted > 0, "no format has an egress target");
    }

    /// Every in-place build is set against its bounced twin.
    #[test]
    fn in_place_builds_meet_their_bounced_twins() {
        for &ip in BenchVariant::all() {
            let Some(twin) = ip.bounced_twin() else {
                continue;
            };
            let mut t = host();
            for d in [Direction::Egress, Direction::Ingress] {
                let bounce = micro(&t, twin, d, 1500).unwrap_or_else(|| {
                    let r = reference(&t, d);
                    add_micro(&mut t, twin, d, r);
                    r
                });
                add_micro(&mut t, ip, d, bounce * 0.75);
            }
            let start = format!("In place against bounce at 1500 B ({})", twin.as_str());
            let l = line(&in_place(&t, 1500), &start).unwrap_or_else(|| panic!("{start}"));
            assert_eq!(l.matches("(-25 %)").count(), 2, "{l}");
        }
    }

    /// The UDP line lists ours and says when no kernel stack was measured;
    /// the TCG caveat closes an emulated target's findings.
    #[test]
    fn alternatives_and_the_tcg_caveat() {
        let mut t = host();
        let l = alternatives(&t, 1500).unwrap();
        let cbc = udp_words(&t, REFERENCE, 1500).unwrap();
        assert!(l.contains(": ours ") && l.contains(&cbc), "{l}");
        assert!(l.contains("were not measured on this kernel"), "{l}");
        let k = BenchVariant::Kernel(KernelStack::ALL[0]);
        add_udp(&mut t, k, 2000.0);
        let l = alternatives(&t, 1500).unwrap();
        let theirs = udp_words(&t, k, 1500).unwrap();
        assert!(
            l.contains(&format!("what a user would pick instead: {theirs}")),
            "{l}"
        );
        assert!(!of(&t, &SIZES).last().unwrap().starts_with("TCG caveat"));
        t.env.emulated = true;
        assert!(of(&t, &SIZES).last().unwrap().starts_with("TCG caveat"));
    }
}
