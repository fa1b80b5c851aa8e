//! Which figures a bench gets, built from `bench.json` alone: throughput
//! per packet size, cost breakdown per cipher, UDP, and the per-kernel
//! comparison when several targets were measured.

use plotters::style::RGBColor;

use super::chart::{BarPanel, Figure, Layer, LinePanel, Panel, Point, Series};
use crate::dataplane::format::Variant;
use crate::domain::Algorithm;
use crate::domain::BenchVariant;
use crate::domain::Direction;
use crate::job::bench::{Env, TargetResult};
use crate::job::stats::Stats;
use crate::output::bench_doc::BenchDoc;

/// Colour of a variant in every figure (a wire format's variants carry
/// their own).
pub(crate) fn variant_color(v: BenchVariant) -> RGBColor {
    if let Some(&Variant { rgb: (r, g, b), .. }) = v.lab_variant() {
        return RGBColor(r, g, b);
    }
    match v {
        BenchVariant::NoProgram => RGBColor(40, 40, 40),
        BenchVariant::Noop => RGBColor(140, 140, 140),
        BenchVariant::Copy => RGBColor(31, 119, 180),
        BenchVariant::XfrmCbcCmac => RGBColor(148, 103, 189),
        BenchVariant::XfrmGcm => RGBColor(90, 50, 140),
        BenchVariant::WireGuard => RGBColor(23, 190, 207),
        _ => RGBColor(127, 127, 127),
    }
}

/// Colour of the userspace ChaCha20-Poly1305 line: the hardware reference
/// beside `wireguard (bpf)`, in its colour.
const CHACHA_HW_COLOR: RGBColor = RGBColor(188, 189, 34);

const TARGET_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(200, 30, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(230, 120, 10),
    RGBColor(23, 190, 207),
];

/// The note line under a figure title: where the figures come from.
pub(crate) fn env_note(target: &str, env: &Env, rounds: &str) -> String {
    let tcg = if env.emulated {
        "TCG (emulated CPU, not representative of hardware) · "
    } else {
        ""
    };
    format!(
        "{tcg}{target}: kernel {} · {} · {} ({} CPU) · commit {} · {rounds}",
        env.kernel, env.accelerator, env.cpu_model, env.cpus, env.commit
    )
}

fn point(x: usize, s: &Stats, scale: f64) -> Point {
    Point {
        x,
        y: s.median * scale,
        lo: s.min * scale,
        hi: s.max * scale,
    }
}

fn index_of(sizes: &[u32], size: u32) -> Option<usize> {
    sizes.iter().position(|&s| s == size)
}

fn categories(doc: &BenchDoc) -> Vec<String> {
    doc.plan.sizes.iter().map(|s| s.to_string()).collect()
}

/// File stem for a target (`throughput-debian-6.12`).
pub(crate) fn stem(kind: &str, target: &str) -> String {
    let t: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{kind}-{t}")
}

fn rounds_text(doc: &BenchDoc) -> String {
    let m = doc
        .plan
        .micro
        .as_ref()
        .map(|m| format!("micro {} rounds", m.rounds));
    let u = doc
        .plan
        .udp
        .as_ref()
        .map(|u| format!("udp {} × {} ms", u.rounds, u.duration_ms));
    let parts: Vec<String> = [m, u].into_iter().flatten().collect();
    format!("median; bars min..max ({})", parts.join(", "))
}

/// Throughput of every program vs packet size, egress and ingress, with the cipher limits.
pub(crate) fn throughput(doc: &BenchDoc, t: &TargetResult) -> Option<Figure> {
    if t.micro.iter().all(|m| m.gbps.is_none()) {
        return None;
    }
    let sizes = &doc.plan.sizes;
    let panel = |d: Direction| {
        let mut series = Vec::new();
        for &v in &doc.plan.variants {
            let points = t
                .micro
                .iter()
                .filter(|m| m.variant == v && m.direction == d && m.check.ok && m.driver.is_none())
                .filter_map(|m| Some(point(index_of(sizes, m.size)?, m.gbps.as_ref()?, 1.0)))
                .collect::<Vec<_>>();
            if !points.is_empty() {
                series.push(Series {
                    label: v.as_str().into(),
                    color: variant_color(v),
                    dashed: false,
                    points,
                });
            }
        }
        limit_lines(t, sizes, d, &mut series);
        let what = if d == Direction::Egress {
            "egress program (encrypt)"
        } else {
            "ingress program (decrypt)"
        };
        Panel::Lines(LinePanel {
            title: what.into(),
            y_label: "Gbit/s of IPv4 packets (log)".into(),
            series,
        })
    };
    Some(Figure {
        title: format!(
            "Data plane throughput vs packet size — {}",
            t.env.label(&t.target)
        ),
        note: env_note(&t.target, &t.env, &rounds_text(doc)),
        x_label: "IPv4 packet size (bytes)".into(),
        categories: categories(doc),
        cols: 2,
        panels: vec![panel(Direction::Egress), panel(Direction::Ingress)],
    })
}

/// The dashed lines of a throughput panel: the kfunc alone per cipher (the
/// data plane's limit) and each cipher in userspace on one core (the
/// hardware's).
fn limit_lines(t: &TargetResult, sizes: &[u32], d: Direction, series: &mut Vec<Series>) {
    for alg in [
        Algorithm::EcbAes,
        Algorithm::CbcAes,
        Algorithm::ChaCha20Poly1305,
    ] {
        let points = t
            .cipher
            .iter()
            .filter(|c| c.algorithm == alg && c.direction == d && c.driver.is_none())
            .filter_map(|c| Some(point(index_of(sizes, c.size)?, c.gbps.as_ref()?, 1.0)))
            .collect::<Vec<_>>();
        if !points.is_empty() {
            let v = BenchVariant::raw(alg, false);
            series.push(Series {
                label: format!("{} kfunc alone (limit)", alg.kernel_name()),
                color: variant_color(v),
                dashed: true,
                points,
            });
        }
        let hw: Vec<Point> = t
            .hardware
            .iter()
            .filter(|h| h.algorithm == alg && h.direction == d)
            .filter_map(|h| Some(point(index_of(sizes, h.size)?, h.gbps.as_ref()?, 1.0)))
            .collect();
        if !hw.is_empty() {
            let (color, what) = match alg {
                Algorithm::EcbAes => (RGBColor(90, 90, 90), "userspace AES"),
                Algorithm::CbcAes => (RGBColor(20, 20, 20), "userspace AES"),
                Algorithm::ChaCha20Poly1305 => (CHACHA_HW_COLOR, "userspace"),
            };
            series.push(Series {
                label: format!("{} {what}, one core (hardware)", alg.kernel_name()),
                color,
                dashed: true,
                points: hw,
            });
        }
    }
}

/// Where the time of one packet goes, per cipher and direction: the test
/// harness and TC entry (noop), copying the packet (copy − noop), the
/// cipher kfunc (kfunc alone − noop) and the rest of the crypto program.
pub(crate) fn cost(doc: &BenchDoc, t: &TargetResult) -> Option<Figure> {
    let mut panels = Vec::new();
    for v in [BenchVariant::Ecb, BenchVariant::Cbc] {
        for d in [Direction::Egress, Direction::Ingress] {
            panels.extend(cost_panel(doc, t, v, d));
        }
    }
    if panels.is_empty() {
        return None;
    }
    Some(Figure {
        title: format!("Cost breakdown per packet — {}", t.env.label(&t.target)),
        note: env_note(
            &t.target,
            &t.env,
            "bar height = median time of the crypto program; numbers = total µs",
        ),
        x_label: "IPv4 packet size (bytes)".into(),
        categories: categories(doc),
        cols: 2,
        panels,
    })
}

/// The cost breakdown of one crypto variant in one direction, if measured.
fn cost_panel(doc: &BenchDoc, t: &TargetResult, v: BenchVariant, d: Direction) -> Option<Panel> {
    let sizes = &doc.plan.sizes;
    let alg = v.algorithm()?;
    let med = |v: BenchVariant, s: u32| {
        t.micro_at(v, d, s)
            .filter(|m| m.check.ok)
            .and_then(|m| m.ns.as_ref())
            .map(|x| x.median / 1000.0)
    };
    if sizes.iter().all(|&s| med(v, s).is_none()) {
        return None;
    }
    let (mut floor, mut copy, mut cipher, mut rest) = (vec![], vec![], vec![], vec![]);
    for &s in sizes {
        let total = med(v, s).unwrap_or(0.0);
        let f = med(BenchVariant::Noop, s).unwrap_or(0.0).min(total);
        let c = med(BenchVariant::Copy, s)
            .map_or(0.0, |c| (c - f).max(0.0))
            .min(total - f);
        let k = t
            .cipher_at(alg, d, s)
            .and_then(|c| c.ns.as_ref())
            .map_or(0.0, |k| (k.median / 1000.0 - f).max(0.0))
            .min(total - f - c);
        floor.push(f);
        copy.push(c);
        cipher.push(k);
        rest.push((total - f - c - k).max(0.0));
    }
    let what = if d == Direction::Egress {
        "encrypt (egress)"
    } else {
        "decrypt (ingress)"
    };
    let layer = |label: &str, color: RGBColor, values: Vec<f64>| Layer {
        label: label.into(),
        color,
        values,
    };
    Some(Panel::Bars(BarPanel {
        title: format!("{} {what}", alg.kernel_name()),
        y_label: "µs per packet (median)".into(),
        layers: vec![
            layer(
                "test run + TC entry (noop)",
                variant_color(BenchVariant::Noop),
                floor,
            ),
            layer(
                "packet copy (copy − noop)",
                variant_color(BenchVariant::Copy),
                copy,
            ),
            layer("cipher kfunc (alone − noop)", variant_color(v), cipher),
            layer(
                "padding, resize, checksum, IV, stores",
                RGBColor(148, 103, 189),
                rest,
            ),
        ],
    }))
}

/// UDP goodput and packet rate vs size per variant.
pub(crate) fn udp(doc: &BenchDoc, t: &TargetResult) -> Option<Figure> {
    if t.udp.iter().all(|u| u.pps.is_none()) {
        return None;
    }
    let sizes = &doc.plan.sizes;
    let panel =
        |title: &str, y: &str, f: &dyn Fn(&crate::job::bench::UdpPoint) -> Option<Point>| {
            let mut series = Vec::new();
            for &v in BenchVariant::all() {
                let points: Vec<Point> = t
                    .udp
                    .iter()
                    .filter(|u| u.variant == v && u.check.ok)
                    .filter_map(f)
                    .collect();
                if !points.is_empty() {
                    let label = if v == BenchVariant::NoProgram {
                        "no program".to_string()
                    } else {
                        v.as_str().to_string()
                    };
                    series.push(Series {
                        label,
                        color: variant_color(v),
                        dashed: v == BenchVariant::NoProgram,
                        points,
                    });
                }
            }
            Panel::Lines(LinePanel {
                title: title.into(),
                y_label: y.into(),
                series,
            })
        };
    Some(Figure {
        title: format!("UDP over the veth pair — {}", t.env.label(&t.target)),
        note: env_note(&t.target, &t.env, &rounds_text(doc)),
        x_label: "IPv4 packet size (bytes)".into(),
        categories: categories(doc),
        cols: 2,
        panels: vec![
            panel("goodput (UDP payload)", "Gbit/s (log)", &|u| {
                Some(point(
                    index_of(sizes, u.size)?,
                    u.goodput_gbps.as_ref()?,
                    1.0,
                ))
            }),
            panel("packet rate", "Mpackets/s (log)", &|u| {
                Some(point(index_of(sizes, u.size)?, u.pps.as_ref()?, 1e-6))
            }),
        ],
    })
}

/// Every end-to-end variant side by side at the largest packet size: UDP
/// packet rate and CPU time per packet (ours, the kernel's ESP, WireGuard).
pub(crate) fn alternatives(doc: &BenchDoc, t: &TargetResult) -> Option<Figure> {
    let size = *doc.plan.sizes.last()?;
    let points: Vec<&crate::job::bench::UdpPoint> = t
        .udp
        .iter()
        .filter(|u| u.size == size && u.check.ok && u.pps.is_some())
        .collect();
    if points.len() < 2 {
        return None;
    }
    // Short names: twelve categories share one panel's width.
    let name = |u: &crate::job::bench::UdpPoint| match u.variant.lab_variant() {
        Some(v) => v.short.to_string(),
        None => match u.variant {
            BenchVariant::NoProgram => "none",
            BenchVariant::Noop => "noop",
            BenchVariant::Copy => "copy",
            BenchVariant::XfrmCbcCmac => "x-cbc",
            BenchVariant::XfrmGcm => "x-gcm",
            BenchVariant::WireGuard => "wg",
            v => v.as_str(),
        }
        .to_string(),
    };
    let bars =
        |title: &str, y: &str, color: RGBColor, f: &dyn Fn(&crate::job::bench::UdpPoint) -> f64| {
            Panel::Bars(BarPanel {
                title: title.into(),
                y_label: y.into(),
                layers: vec![Layer {
                    label: title.into(),
                    color,
                    values: points.iter().map(|u| f(u)).collect(),
                }],
            })
        };
    let median = |s: &Option<Stats>| s.as_ref().map_or(0.0, |s| s.median);
    Some(Figure {
        title: format!(
            "UDP at {size} B: the data plane and the alternatives — {}",
            t.env.label(&t.target)
        ),
        note: env_note(
            &t.target,
            &t.env,
            &format!(
                "{} · ip = in place, x-cbc / x-gcm = the kernel's ESP (cbc+cmac / rfc4106 gcm), wg = the kernel's WireGuard, wg bpf = ours",
                rounds_text(doc)
            ),
        ),
        x_label: "variant".into(),
        categories: points.iter().map(|u| name(u)).collect(),
        cols: 1,
        panels: vec![
            bars(
                "kpackets/s (median)",
                "kpackets/s",
                RGBColor(31, 119, 180),
                &|u| median(&u.pps) / 1000.0,
            ),
            bars(
                "CPU µs per packet (median, all CPUs)",
                "µs",
                RGBColor(200, 30, 40),
                &|u| median(&u.cpu_ns_per_packet) / 1000.0,
            ),
        ],
    })
}

/// The same figures across targets (kernels): micro egress and ingress
/// throughput and UDP goodput per cipher, one line per target.
pub(crate) fn kernels(doc: &BenchDoc) -> Option<Figure> {
    let measured: Vec<&TargetResult> = doc
        .targets
        .iter()
        .filter(|t| !t.micro.is_empty() || !t.udp.is_empty())
        .collect();
    if measured.len() < 2 {
        return None;
    }
    let mut panels = Vec::new();
    let crypto = doc
        .plan
        .variants
        .iter()
        .copied()
        .filter(|v| v.algorithm().is_some());
    for v in crypto {
        for d in [Some(Direction::Egress), Some(Direction::Ingress), None] {
            let series = kernel_series(&doc.plan.sizes, &measured, v, d);
            if series.is_empty() {
                continue;
            }
            let title = match d {
                Some(d) => format!("{} {} program (test run)", v.as_str(), d.as_str()),
                None => format!("{} UDP goodput", v.as_str()),
            };
            panels.push(Panel::Lines(LinePanel {
                title,
                y_label: "Gbit/s (log)".into(),
                series,
            }));
        }
    }
    if panels.is_empty() {
        return None;
    }
    let tcg = measured.iter().any(|t| t.env.emulated);
    Some(Figure {
        title: "Per-kernel comparison".into(),
        note: format!(
            "{}median; bars min..max · commit {}",
            if tcg {
                "dashed = TCG (emulated CPU, not comparable with hardware) · "
            } else {
                ""
            },
            measured[0].env.commit
        ),
        x_label: "IPv4 packet size (bytes)".into(),
        categories: categories(doc),
        cols: 3,
        panels,
    })
}

/// One line per target: micro throughput in direction `d`, or UDP goodput
/// (`d` is `None`), of variant `v`.
fn kernel_series(
    sizes: &[u32],
    measured: &[&TargetResult],
    v: BenchVariant,
    d: Option<Direction>,
) -> Vec<Series> {
    let mut series = Vec::new();
    for (i, t) in measured.iter().enumerate() {
        let points: Vec<Point> = match d {
            Some(d) => t
                .micro
                .iter()
                .filter(|m| m.variant == v && m.direction == d && m.check.ok)
                .filter_map(|m| Some(point(index_of(sizes, m.size)?, m.gbps.as_ref()?, 1.0)))
                .collect(),
            None => t
                .udp
                .iter()
                .filter(|u| u.variant == v && u.check.ok)
                .filter_map(|u| {
                    Some(point(
                        index_of(sizes, u.size)?,
                        u.goodput_gbps.as_ref()?,
                        1.0,
                    ))
                })
                .collect(),
        };
        if !points.is_empty() {
            series.push(Series {
                label: t.env.label(&t.target),
                color: TARGET_COLORS[i % TARGET_COLORS.len()],
                dashed: t.env.emulated,
                points,
            });
        }
    }
    series
}
