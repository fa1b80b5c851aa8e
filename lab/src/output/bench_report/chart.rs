//! Figures as data ([`Figure`] of line or stacked-bar panels) and their
//! drawing with plotters, to SVG and PNG alike. The x axis is always the
//! packet sizes as evenly spaced categories.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font::{self, FAMILY};
use crate::output::safe_write;

/// One point with its spread (min/max of the rounds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    /// Index of the x category.
    pub(crate) x: usize,
    /// Median.
    pub(crate) y: f64,
    /// Lower end of the spread.
    pub(crate) lo: f64,
    /// Upper end of the spread.
    pub(crate) hi: f64,
}

/// A line with markers and error bars.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Legend text.
    pub(crate) label: String,
    /// Colour.
    pub(crate) color: RGBColor,
    /// Dashed (limits, baselines) or solid.
    pub(crate) dashed: bool,
    /// Points (x categories may be missing).
    pub(crate) points: Vec<Point>,
}

/// Lines over the x categories, logarithmic y.
#[derive(Debug, Clone)]
pub(crate) struct LinePanel {
    /// Panel title.
    pub(crate) title: String,
    /// Y axis text.
    pub(crate) y_label: String,
    /// The lines.
    pub(crate) series: Vec<Series>,
}

/// One layer of stacked bars.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// Legend text.
    pub(crate) label: String,
    /// Colour.
    pub(crate) color: RGBColor,
    /// Height per category (0 where missing).
    pub(crate) values: Vec<f64>,
}

/// Stacked bars per x category, linear y.
#[derive(Debug, Clone)]
pub(crate) struct BarPanel {
    /// Panel title.
    pub(crate) title: String,
    /// Y axis text.
    pub(crate) y_label: String,
    /// Layers, bottom first.
    pub(crate) layers: Vec<Layer>,
}

/// A panel of a figure.
#[derive(Debug, Clone)]
pub(crate) enum Panel {
    /// Lines.
    Lines(LinePanel),
    /// Stacked bars.
    Bars(BarPanel),
}

/// A figure: title, note line, panels in a grid over shared x categories.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// Title.
    pub(crate) title: String,
    /// Second line (environment; TCG warning).
    pub(crate) note: String,
    /// X axis text.
    pub(crate) x_label: String,
    /// X category labels (packet sizes).
    pub(crate) categories: Vec<String>,
    /// Panels per row.
    pub(crate) cols: usize,
    /// Panels.
    pub(crate) panels: Vec<Panel>,
}

const PANEL_W: u32 = 760;
const PANEL_H: u32 = 520;
/// Title band plus one band per note line.
const TITLE_H: u32 = 56;
const NOTE_LINE_H: u32 = 26;
/// Average width of a note character at 18 px, for wrapping.
const NOTE_CHAR_W: u32 = 10;

impl Figure {
    /// Pixel size of the whole figure.
    pub(crate) fn size(&self) -> (u32, u32) {
        let cols = self.cols.max(1) as u32;
        let rows = self.panels.len().div_ceil(self.cols.max(1)) as u32;
        let w = PANEL_W * cols;
        (w, self.header_h(w) + PANEL_H * rows.max(1))
    }

    fn header_h(&self, width: u32) -> u32 {
        TITLE_H + NOTE_LINE_H * self.note_lines(width).len() as u32 + 8
    }

    /// The note wrapped at its ` · ` separators to fit `width` pixels.
    fn note_lines(&self, width: u32) -> Vec<String> {
        let cap = (width.saturating_sub(32) / NOTE_CHAR_W).max(20) as usize;
        let mut lines: Vec<String> = Vec::new();
        for part in self.note.split(" · ") {
            match lines.last_mut() {
                Some(l) if l.chars().count() + 3 + part.chars().count() <= cap => {
                    l.push_str(" · ");
                    l.push_str(part);
                }
                _ => lines.push(part.to_string()),
            }
        }
        lines
    }
}

/// Draws `fig` as `<stem>.svg` and `<stem>.png` in `dir`; returns the file names.
pub(crate) fn write(fig: &Figure, dir: &Path, stem: &str) -> Result<Vec<String>> {
    font::register();
    let size = fig.size();
    let svg = format!("{stem}.svg");
    let png = format!("{stem}.png");
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root, fig).map_err(|e| anyhow!("drawing {svg}: {e:?}"))?;
        root.present()
            .map_err(|e| anyhow!("drawing {svg}: {e:?}"))?;
    }
    safe_write::write(&dir.join(&svg), text)?;
    // plotters encodes PNG only into a file: one in a private folder of
    // ours, then copied safely into `dir`.
    let private = tempfile::tempdir().context("creating a folder for the PNG")?;
    let path = private.path().join(&png);
    {
        let root = BitMapBackend::new(&path, size).into_drawing_area();
        draw(&root, fig).map_err(|e| anyhow!("drawing {png}: {e:?}"))?;
        root.present()
            .map_err(|e| anyhow!("writing {png}: {e:?}"))?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    safe_write::write(&dir.join(&png), bytes)?;
    Ok(vec![svg, png])
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let width = root.dim_in_pixel().0;
    let (header, body) = root.split_vertically(fig.header_h(width));
    header.draw(&Text::new(
        fig.title.clone(),
        (16, 12),
        (FAMILY, 28)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK),
    ))?;
    for (i, line) in fig.note_lines(width).into_iter().enumerate() {
        header.draw(&Text::new(
            line,
            (16, TITLE_H as i32 - 4 + (i as u32 * NOTE_LINE_H) as i32),
            (FAMILY, 18).into_font().color(&RGBColor(90, 90, 90)),
        ))?;
    }
    let cols = fig.cols.max(1);
    let rows = fig.panels.len().div_ceil(cols).max(1);
    for (area, panel) in body.split_evenly((rows, cols)).iter().zip(&fig.panels) {
        match panel {
            Panel::Lines(p) => draw_lines(area, fig, p)?,
            Panel::Bars(p) => draw_bars(area, fig, p)?,
        }
    }
    Ok(())
}

/// Axis numbers: short and without trailing zeros.
pub(crate) fn fmt_axis(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        let digits = (-a.log10()).ceil() as usize;
        format!("{v:.digits$}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The corner of a line panel with the fewest points (on the log scale),
/// for the legend; ties prefer the upper left.
fn legend_corner(p: &LinePanel, n: usize, lo: f64, hi: f64) -> SeriesLabelPosition {
    let (llo, lhi) = (lo.log10(), hi.log10());
    let span = (lhi - llo).max(1e-9);
    let mut counts = [0usize; 4]; // UL, UR, LL, LR
    for q in p
        .series
        .iter()
        .flat_map(|s| &s.points)
        .filter(|q| q.y > 0.0)
    {
        let fx = (q.x as f64 + 0.5) / n.max(1) as f64;
        let fy = (q.y.log10() - llo) / span;
        let (left, right, top, bottom) = (fx < 0.5, fx > 0.5, fy > 0.55, fy < 0.45);
        for (i, hit) in [left && top, right && top, left && bottom, right && bottom]
            .into_iter()
            .enumerate()
        {
            counts[i] += usize::from(hit);
        }
    }
    let best = (0..4).min_by_key(|&i| (counts[i], i)).unwrap_or(0);
    [
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerLeft,
        SeriesLabelPosition::LowerRight,
    ][best]
        .clone()
}

/// Log-axis numbers: only 1, 2 and 5 times a power of ten are labelled.
pub(crate) fn fmt_log_axis(v: f64) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let m = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|k| (m - k).abs() < 1e-6 * k)
    {
        fmt_axis(v)
    } else {
        String::new()
    }
}

fn category_label(cats: &[String], v: &SegmentValue<i32>) -> String {
    match v {
        SegmentValue::CenterOf(i) => cats.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The y range of a log-scale panel: its positive values, with room for
/// the legend.
fn log_range(p: &LinePanel) -> (f64, f64) {
    let ys = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|q| [q.lo, q.y, q.hi]))
        .filter(|y| *y > 0.0);
    let (lo, hi) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    if lo > hi {
        (0.1, 10.0)
    } else {
        // plotters labels a log axis from its first power of ten up: start
        // just below one (exactly at it, rounding would skip it).
        (10f64.powf((lo / 1.15).log10().floor()) * 0.999, hi * 2.2)
    }
}

type LineChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordi32>, LogCoord<f64>>>;
type BarChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordi32>, RangedCoordf64>>;

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    p: &LinePanel,
) -> DrawResult<DB> {
    let (lo, hi) = log_range(p);
    let n = fig.categories.len().max(1) as i32;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 22).into_font().style(FontStyle::Bold))
        .margin(14)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d((0..n - 1).into_segmented(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .label_style((FAMILY, 17))
        .axis_desc_style((FAMILY, 18))
        .x_labels(fig.categories.len() + 1)
        .x_label_formatter(&|v| category_label(&fig.categories, v))
        .y_labels(30)
        .y_label_formatter(&|v| fmt_log_axis(*v))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(232, 232, 232))
        .draw()?;
    for s in &p.series {
        draw_series(&mut chart, s)?;
    }
    chart
        .configure_series_labels()
        .position(legend_corner(p, fig.categories.len(), lo, hi))
        .background_style(WHITE.mix(0.88))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FAMILY, 16))
        .draw()?;
    Ok(())
}

/// One line of a line panel: dashed, or solid with markers; error bars.
fn draw_series<'a, DB: DrawingBackend + 'a>(
    chart: &mut LineChart<'a, DB>,
    s: &Series,
) -> DrawResult<DB> {
    let color = s.color;
    let style = ShapeStyle::from(&color).stroke_width(if s.dashed { 2 } else { 3 });
    let pts: Vec<(SegmentValue<i32>, f64)> = s
        .points
        .iter()
        .filter(|q| q.y > 0.0)
        .map(|q| (SegmentValue::CenterOf(q.x as i32), q.y))
        .collect();
    if s.dashed {
        let legend = move |(x, y): (i32, i32)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (9, 0)], style)
                + PathElement::new(vec![(15, 0), (24, 0)], style)
        };
        chart
            .draw_series(DashedLineSeries::new(pts.clone(), 10, 6, style))?
            .label(&s.label)
            .legend(legend);
    } else {
        let legend = move |(x, y): (i32, i32)| PathElement::new(vec![(x, y), (x + 24, y)], style);
        chart
            .draw_series(LineSeries::new(pts.clone(), style))?
            .label(&s.label)
            .legend(legend);
        chart.draw_series(
            pts.iter()
                .map(|(x, y)| Circle::new((x.clone(), *y), 4, color.filled())),
        )?;
    }
    chart.draw_series(
        s.points
            .iter()
            .filter(|q| q.y > 0.0 && q.lo > 0.0 && q.hi > q.lo)
            .map(|q| {
                ErrorBar::new_vertical(
                    SegmentValue::CenterOf(q.x as i32),
                    q.lo,
                    q.y,
                    q.hi,
                    color.stroke_width(2),
                    10,
                )
            }),
    )?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    p: &BarPanel,
) -> DrawResult<DB> {
    let n = fig.categories.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            p.layers
                .iter()
                .map(|l| l.values.get(i).copied().unwrap_or(0.0).max(0.0))
                .sum()
        })
        .collect();
    let top = totals.iter().cloned().fold(0.0, f64::max).max(1e-9) * 1.45;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 22).into_font().style(FontStyle::Bold))
        .margin(14)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d((0..n.max(1) as i32 - 1).into_segmented(), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .label_style((FAMILY, 17))
        .axis_desc_style((FAMILY, 18))
        .x_labels(n + 1)
        .y_labels(8)
        .x_label_formatter(&|v| category_label(&fig.categories, v))
        .y_label_formatter(&|v| fmt_axis(*v))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(228, 228, 228))
        .draw()?;
    draw_layers(&mut chart, p, n)?;
    draw_totals(&mut chart, &totals, top)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.88))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FAMILY, 16))
        .draw()?;
    Ok(())
}

/// The stacked layers of a bar panel, bottom up.
fn draw_layers<'a, DB: DrawingBackend + 'a>(
    chart: &mut BarChart<'a, DB>,
    p: &BarPanel,
    n: usize,
) -> DrawResult<DB> {
    let mut base = vec![0.0; n];
    for l in &p.layers {
        let color = l.color;
        let bars: Vec<Rectangle<(SegmentValue<i32>, f64)>> = (0..n)
            .filter_map(|i| {
                let v = l.values.get(i).copied().unwrap_or(0.0).max(0.0);
                let y0 = base[i];
                base[i] += v;
                (v > 0.0).then(|| {
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), y0),
                            (SegmentValue::Exact(i as i32 + 1), y0 + v),
                        ],
                        color.filled(),
                    );
                    r.set_margin(0, 0, 14, 14);
                    r
                })
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(&l.label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 18, y + 7)], color.filled()));
    }
    Ok(())
}

/// Each bar's total above it.
fn draw_totals<'a, DB: DrawingBackend + 'a>(
    chart: &mut BarChart<'a, DB>,
    totals: &[f64],
    top: f64,
) -> DrawResult<DB> {
    let label_style =
        TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(
        totals
            .iter()
            .enumerate()
            .filter(|(_, t)| **t > 0.0)
            .map(|(i, t)| {
                Text::new(
                    fmt_axis(*t),
                    (SegmentValue::CenterOf(i as i32), *t + top * 0.01),
                    label_style.clone(),
                )
            }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(fmt_axis(1500.0), "1500");
        assert_eq!(fmt_axis(12.5), "12.5");
        assert_eq!(fmt_axis(2.0), "2");
        assert_eq!(fmt_axis(0.25), "0.25");
        assert_eq!(fmt_axis(0.0), "0");
        assert_eq!(fmt_log_axis(0.2), "0.2");
        assert_eq!(fmt_log_axis(50.0), "50");
        assert_eq!(fmt_log_axis(0.09), "");
        assert_eq!(fmt_log_axis(0.005), "0.005");
        assert_eq!(fmt_log_axis(3000.0), "");
    }

    #[test]
    fn figures_render_to_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let pts = |k: f64| {
            (0..3)
                .map(|x| Point {
                    x,
                    y: k * (x + 1) as f64,
                    lo: k * 0.9 * (x + 1) as f64,
                    hi: k * 1.1 * (x + 1) as f64,
                })
                .collect()
        };
        let fig = Figure {
            title: "Test figure".into(),
            note: "note µs × → ≤".into(),
            x_label: "packet size (bytes)".into(),
            categories: vec!["64".into(), "512".into(), "1500".into()],
            cols: 2,
            panels: vec![
                Panel::Lines(LinePanel {
                    title: "lines".into(),
                    y_label: "Gbit/s".into(),
                    series: vec![
                        Series {
                            label: "a".into(),
                            color: RED,
                            dashed: false,
                            points: pts(1.0),
                        },
                        Series {
                            label: "b".into(),
                            color: BLUE,
                            dashed: true,
                            points: pts(10.0),
                        },
                    ],
                }),
                Panel::Bars(BarPanel {
                    title: "bars".into(),
                    y_label: "µs".into(),
                    layers: vec![
                        Layer {
                            label: "x".into(),
                            color: RED,
                            values: vec![1.0, 2.0, 3.0],
                        },
                        Layer {
                            label: "y".into(),
                            color: BLUE,
                            values: vec![0.5, 0.0, 1.0],
                        },
                    ],
                }),
            ],
        };
        let files = write(&fig, dir.path(), "t").unwrap();
        assert_eq!(files, vec!["t.svg", "t.png"]);
        let svg = std::fs::read_to_string(dir.path().join("t.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("Test figure") && svg.contains("1500"));
        let png = std::fs::read(dir.path().join("t.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
