//! What a figure's name says: which way is better, its unit, and where it
//! goes in a table. Names this build does not know are guessed from their
//! words (`…ns…` costs, `…pps`/`…gbps` rates) or left without a direction,
//! which shows a change but never fails the comparison.

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// A cost (ns per packet): relative change.
    Lower,
    /// A rate (packets/s, Gbit/s): relative change.
    Higher,
    /// A share that should stay near 0 (loss): change in percentage points,
    /// since a relative change from 0 means nothing.
    LowerShare,
    /// No direction (CPU busy share): shown, never a regression.
    Neither,
}

/// How a figure's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Nanoseconds.
    Ns,
    /// Packets per second.
    Pps,
    /// Gbit/s.
    Gbps,
    /// A share 0..1, written in %.
    Share,
    /// Anything else.
    Plain,
}

/// What a figure's name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metric {
    /// Which way is better.
    pub(crate) better: Better,
    /// Its unit.
    pub(crate) unit: Unit,
    /// Order within a point (known names first, in this order).
    pub(crate) rank: usize,
}

/// Figures `lab bench` writes, in table order.
const KNOWN: [(&str, Better, Unit); 8] = [
    ("ns", Better::Lower, Unit::Ns),
    ("pps", Better::Higher, Unit::Pps),
    ("goodput_gbps", Better::Higher, Unit::Gbps),
    ("gbps", Better::Higher, Unit::Gbps),
    ("loss", Better::LowerShare, Unit::Share),
    ("cpu_ns_per_packet", Better::Lower, Unit::Ns),
    ("thread_cpu_ns_per_packet", Better::Lower, Unit::Ns),
    ("cpu_util", Better::Neither, Unit::Share),
];

/// What `name` says.
pub(crate) fn of(name: &str) -> Metric {
    if let Some(i) = KNOWN.iter().position(|(n, _, _)| *n == name) {
        let (_, better, unit) = KNOWN[i];
        return Metric {
            better,
            unit,
            rank: i,
        };
    }
    let words: Vec<&str> = name.split('_').collect();
    let has = |w: &str| words.contains(&w);
    let (better, unit) = if has("ns") {
        (Better::Lower, Unit::Ns)
    } else if has("pps") {
        (Better::Higher, Unit::Pps)
    } else if has("gbps") {
        (Better::Higher, Unit::Gbps)
    } else if has("loss") {
        (Better::LowerShare, Unit::Share)
    } else {
        (Better::Neither, Unit::Plain)
    };
    Metric {
        better,
        unit,
        rank: KNOWN.len(),
    }
}

/// Whether a figure only restates another one of the same point: micro and
/// cipher Gbit/s are the packet size over the ns figure, so comparing both
/// would count one change twice.
pub(crate) fn derived(name: &str, has: impl Fn(&str) -> bool) -> bool {
    name == "gbps" && has("ns")
}

/// `v` in `unit`, with about four significant digits.
pub(crate) fn format(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Ns if v.abs() >= 100.0 => format!("{v:.0} ns"),
        Unit::Ns => format!("{v:.1} ns"),
        Unit::Pps if v.abs() >= 1e6 => format!("{:.3} Mpps", v / 1e6),
        Unit::Pps => format!("{:.1} kpps", v / 1e3),
        Unit::Gbps => format!("{} Gbit/s", sig(v)),
        Unit::Share => format!("{:.1} %", v * 100.0),
        Unit::Plain => sig(v),
    }
}

/// About four significant digits, without an exponent for everyday values.
fn sig(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_guessed_directions() {
        assert_eq!(of("ns").better, Better::Lower);
        assert_eq!(of("pps").better, Better::Higher);
        assert_eq!(of("loss").better, Better::LowerShare);
        assert_eq!(of("cpu_util").better, Better::Neither);
        assert_eq!(of("p10_ns").better, Better::Lower);
        assert_eq!(of("hw_gbps").unit, Unit::Gbps);
        assert_eq!(of("whatever").better, Better::Neither);
        assert!(of("ns").rank < of("p10_ns").rank);
        assert!(derived("gbps", |n| n == "ns") && !derived("goodput_gbps", |_| true));
    }

    #[test]
    fn formats() {
        assert_eq!(format(Unit::Ns, 12576.4), "12576 ns");
        assert_eq!(format(Unit::Ns, 68.16), "68.2 ns");
        assert_eq!(format(Unit::Pps, 273274.6), "273.3 kpps");
        assert_eq!(format(Unit::Gbps, 18.3669), "18.37 Gbit/s");
        assert_eq!(format(Unit::Gbps, 3.728e-5), "3.728e-5 Gbit/s");
        assert_eq!(format(Unit::Share, 0.0123), "1.2 %");
        assert_eq!(format(Unit::Plain, 0.0), "0");
    }
}
