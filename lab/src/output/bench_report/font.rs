//! The font for plots: a DejaVu Sans subset (Latin-1 and a few symbols)
//! embedded in the binary, so PNGs render the same everywhere, also in a
//! static guest without fontconfig. See `lab/assets/README.md`.

use std::sync::Once;

use plotters::style::FontStyle;

/// Family name the plots use.
pub(crate) const FAMILY: &str = "sans-serif";

static REGULAR: &[u8] = include_bytes!("../../../assets/DejaVuSans-subset.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/DejaVuSans-Bold-subset.ttf");

/// Registers the embedded font with plotters (once per process).
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are checked by the `font_loads` test; a failure here
        // would only make text disappear, never panic.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, REGULAR);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, BOLD);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_loads() {
        assert!(plotters::style::register_font("test-regular", FontStyle::Normal, REGULAR).is_ok());
        assert!(plotters::style::register_font("test-bold", FontStyle::Bold, BOLD).is_ok());
    }
}
