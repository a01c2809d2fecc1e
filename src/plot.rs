//! Pictures of training, drawn with [`plotters`] (feature `plot`).
//!
//! The course's 실습 2-2 draws `Error_list` with `plt.plot`; [`loss_curve_svg`] draws a
//! [`History::loss`] the same way, to an SVG file, and [`history_svg`] draws a whole
//! [`History`]: loss and accuracy, for training and validation data. [`xy_svg`] draws points and
//! curves over x (data, fitted lines, a target function and its approximations), in panels side
//! by side. [`diagnostics_svg`] draws the per-layer [diagnostics](crate::diagnostics) of a
//! `History` over the epochs, and [`histograms_svg`] a grid of activation histograms.

use crate::diagnostics::{Histogram, LayerStats};
use crate::{Error, History, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Width and height of one chart, in pixels.
const SIZE: (u32, u32) = (800, 500);

/// One line of a chart: its name in the legend, its values (one per epoch), its colour.
type Curve<'a> = (&'a str, &'a [f64], RGBColor);

/// Draws `losses` (one value per epoch, e.g. [`History::loss`]) as a line over the epochs and
/// writes it to the SVG file `path`, titled `title`, with the axes labelled "epoch" and "error".
///
/// The vertical axis is linear and starts at 0 (or at the smallest value, if that is negative).
/// The file is written atomically (a temporary file in the same folder, then renamed), so `path`
/// holds either its old contents or the whole new picture.
///
/// # Errors
/// [`Error::Plot`] if `losses` is empty, holds a NaN or infinite value (naming the epoch) or spans
/// a range wider than an `f64` can hold, or if drawing fails; [`Error::Io`] if the file cannot be
/// written. Nothing at `path` has changed then.
///
/// # Example
/// ```
/// let path = std::env::temp_dir().join("backprop_doc_loss_curve.svg");
/// backprop::plot::loss_curve_svg(&path, "XOR", &[0.7, 0.5, 0.2, 0.1])?;
/// assert!(std::fs::read_to_string(&path)?.contains("epoch"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn loss_curve_svg(path: impl AsRef<Path>, title: &str, losses: &[f64]) -> Result<()> {
    let path = path.as_ref();
    let curves: [Curve<'_>; 1] = [("loss", losses, BLUE)];
    render(path, SIZE, |root| chart(root, path, title, "error", &curves, false))
}

/// Draws a training [`History`] to the SVG file `path`: the loss per epoch on the left, the
/// accuracy on the right, each for the training data and (if there was any) the validation data.
///
/// # Errors
/// As [`loss_curve_svg`].
///
/// # Example
/// ```
/// # use backprop::prelude::*;
/// # use nalgebra::DMatrix;
/// let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
/// let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
/// let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 4)).add(Tanh).add(Dense::new(4, 1)).add(Sigmoid).build(0)?;
/// let history = net.fit(&x, &t, &mut FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(50))?;
/// let path = std::env::temp_dir().join("backprop_doc_history.svg");
/// backprop::plot::history_svg(&path, "XOR", &history)?;
/// assert!(std::fs::read_to_string(&path)?.contains("accuracy"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn history_svg(path: impl AsRef<Path>, title: &str, history: &History) -> Result<()> {
    let path = path.as_ref();
    let mut losses: Vec<Curve<'_>> = vec![("training", &history.loss, BLUE)];
    let mut accuracies: Vec<Curve<'_>> = vec![("training", &history.accuracy, BLUE)];
    if !history.val_loss.is_empty() {
        losses.push(("validation", &history.val_loss, RED));
        accuracies.push(("validation", &history.val_accuracy, RED));
    }
    render(path, (2 * SIZE.0, SIZE.1), |root| {
        let (left, right) = root.split_horizontally(SIZE.0);
        chart(&left, path, &format!("{title}: loss"), "loss", &losses, true)?;
        chart(&right, path, &format!("{title}: accuracy"), "accuracy", &accuracies, true)
    })
}

/// The most points drawn per curve.
const MAX_POINTS: usize = 1000;
/// Draws several training runs in one picture, to compare them: each run's training loss on the
/// left and its validation accuracy (its training accuracy if it had no validation data) on the
/// right, one colour per run, named in the legends.
///
/// # Errors
/// As [`loss_curve_svg`]; [`Error::Plot`] for more than six runs (there are six colours).
pub fn compare_svg(path: impl AsRef<Path>, title: &str, runs: &[(&str, &History)]) -> Result<()> {
    let path = path.as_ref();
    const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    if runs.len() > COLORS.len() || runs.is_empty() {
        let message = format!("{} runs to draw; between 1 and {} can be told apart", runs.len(), COLORS.len());
        return Err(Error::Plot { path: path.to_path_buf(), message });
    }
    let losses: Vec<Curve<'_>> = runs.iter().zip(COLORS).map(|((name, h), c)| (*name, &h.loss[..], c)).collect();
    let accuracies: Vec<Curve<'_>> = runs
        .iter()
        .zip(COLORS)
        .map(|((name, h), c)| (*name, if h.val_accuracy.is_empty() { &h.accuracy[..] } else { &h.val_accuracy[..] }, c))
        .collect();
    let validated = runs.iter().all(|(_, h)| !h.val_accuracy.is_empty());
    render(path, (2 * SIZE.0, SIZE.1), |root| {
        let (left, right) = root.split_horizontally(SIZE.0);
        chart(&left, path, &format!("{title}: training loss"), "loss", &losses, true)?;
        let what = if validated { "validation accuracy" } else { "training accuracy" };
        chart(&right, path, &format!("{title}: {what}"), "accuracy", &accuracies, true)
    })
}

/// Draws into an SVG string with `paint`, then writes it to `path` atomically.
fn render(
    path: &Path,
    size: (u32, u32),
    paint: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(path, e))?;
        paint(&root)?;
        root.present().map_err(|e| failed(path, e))?;
    }
    crate::file::write_atomically(path, svg.as_bytes())
}

fn failed(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot { path: path.to_path_buf(), message: format!("drawing failed: {e}") }
}

/// One chart of `curves` over the epochs, on `area`.
fn chart(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    path: &Path,
    title: &str,
    y_desc: &str,
    curves: &[Curve<'_>],
    legend: bool,
) -> Result<()> {
    let fail = |message: String| Error::Plot { path: path.to_path_buf(), message };
    let mut low = 0.0_f64;
    let mut max = f64::NEG_INFINITY;
    let mut epochs = 0;
    for (name, values, _) in curves {
        if values.is_empty() {
            return Err(fail(format!("no {name} values to draw")));
        }
        if let Some((epoch, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(fail(format!("the {name} value of epoch {} is {value}, not a finite number", epoch + 1)));
        }
        low = values.iter().fold(low, |lo, &v| lo.min(v));
        max = values.iter().fold(max, |hi, &v| hi.max(v));
        epochs = epochs.max(values.len());
    }
    let high = if max > low { max + 0.05 * (max - low) } else { low + 1.0 };
    if !(high - low).is_finite() {
        return Err(fail(format!("cannot scale an axis to the range [{low:e}, {max:e}]")));
    }
    // Plain decimals for ordinary ranges, scientific notation for very small or large numbers.
    let scientific = high - low < 1e-3 || high.abs().max(low.abs()) >= 1e7;
    let decimals = (-(high - low).log10()).ceil().clamp(0.0, 6.0) as usize + 1;
    let label = move |v: &f64| if scientific { format!("{v:.2e}") } else { format!("{v:.decimals$}") };

    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(if scientific { 88 } else { 72 })
        // Epochs are numbered from 1 here, as in progress lines and CSV files.
        .build_cartesian_2d(1..epochs.max(2), low..high)
        .map_err(|e| failed(path, e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .y_label_formatter(&label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| failed(path, e))?;
    for &(name, values, color) in curves {
        // At most MAX_POINTS points per curve (every k-th epoch and the last): the chart is a few
        // hundred pixels wide, and 20 000 points made a 180 kB file that looked the same.
        let stride = values.len().div_ceil(MAX_POINTS).max(1);
        let last = values.len() - 1;
        let points = values.iter().enumerate().filter(move |&(e, _)| e % stride == 0 || e == last);
        let line = LineSeries::new(points.map(|(e, &v)| (e + 1, v)), color.stroke_width(2));
        let drawn = chart.draw_series(line).map_err(|e| failed(path, e))?;
        drawn.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if legend {
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| failed(path, e))?;
    }
    Ok(())
}

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A line through the points, in the order given.
    Line,
    /// A dot at every point.
    Points,
}

/// One named set of points of an [`xy_svg`] panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name in the panel's legend.
    pub name: String,
    /// The points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Line or dots.
    pub mark: Mark,
}

impl Series {
    /// A line through `points`, named `name`.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, mark: Mark::Line }
    }

    /// A dot at each of `points`, named `name`.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, mark: Mark::Points }
    }
}

/// One chart of an [`xy_svg`] figure: a title and the series drawn in it (coloured in order:
/// black, blue, red, green, magenta, cyan).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The panel's caption.
    pub title: String,
    /// What it shows; the axes span every point of every series.
    pub series: Vec<Series>,
}

/// The colours of a panel's series, in order.
const PALETTE: [RGBColor; 6] = [BLACK, BLUE, RED, RGBColor(0, 140, 0), MAGENTA, CYAN];

/// Draws `panels` side by side (each 800 × 500 pixels) to the SVG file `path`, with the axes
/// labelled "x" and "y" and a legend in each panel's upper left corner. The file is written
/// atomically.
///
/// # Errors
/// [`Error::Plot`] if there are no panels, a panel has no point, a point is NaN or infinite
/// (naming the series) or drawing fails; [`Error::Io`] if the file cannot be written. Nothing at
/// `path` has changed then.
///
/// # Example
/// ```
/// use backprop::plot::{xy_svg, Panel, Series};
/// let data = vec![(0.0, 3.1), (1.0, 4.9), (2.0, 7.2)];
/// let fit = vec![(0.0, 3.0), (2.0, 7.0)];
/// let panel = Panel { title: "y = 2x + 3".into(), series: vec![Series::points("data", data), Series::line("fit", fit)] };
/// let path = std::env::temp_dir().join("backprop_doc_xy.svg");
/// xy_svg(&path, &[panel])?;
/// assert!(std::fs::read_to_string(&path)?.contains("y = 2x + 3"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn xy_svg(path: impl AsRef<Path>, panels: &[Panel]) -> Result<()> {
    let path = path.as_ref();
    let fail = |message: String| Error::Plot { path: path.to_path_buf(), message };
    if panels.is_empty() {
        return Err(fail("no panels to draw".into()));
    }
    let mut ranges = Vec::with_capacity(panels.len());
    for panel in panels {
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for series in &panel.series {
            if let Some((i, p)) = series.points.iter().enumerate().find(|(_, (x, y))| !x.is_finite() || !y.is_finite())
            {
                return Err(fail(format!("point {i} of {} in {} is {p:?}, not finite", series.name, panel.title)));
            }
            for &(x, y) in &series.points {
                (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
            }
        }
        if x_lo > x_hi {
            return Err(fail(format!("no points to draw in {}", panel.title)));
        }
        let pad = |lo: f64, hi: f64| if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
        let (px, py) = (pad(x_lo, x_hi), pad(y_lo, y_hi));
        let range = (x_lo - px, x_hi + px, y_lo - py, y_hi + py);
        if !(range.1 - range.0).is_finite() || !(range.3 - range.2).is_finite() {
            return Err(fail(format!("cannot scale the axes of {} to its points", panel.title)));
        }
        ranges.push(range);
    }
    let count = u32::try_from(panels.len()).map_err(|_| fail("too many panels".into()))?;
    render(path, (SIZE.0.saturating_mul(count), SIZE.1), |root| {
        for ((area, panel), &(x0, x1, y0, y1)) in root.split_evenly((1, panels.len())).iter().zip(panels).zip(&ranges) {
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, ("sans-serif", 22))
                .margin(16)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| failed(path, e))?;
            chart
                .configure_mesh()
                .x_desc("x")
                .y_desc("y")
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 18))
                .draw()
                .map_err(|e| failed(path, e))?;
            for (k, series) in panel.series.iter().enumerate() {
                let color = PALETTE[k % PALETTE.len()];
                let drawn = match series.mark {
                    Mark::Line => chart
                        .draw_series(LineSeries::new(series.points.iter().copied(), color.stroke_width(2)))
                        .map_err(|e| failed(path, e))?,
                    Mark::Points => chart
                        .draw_series(series.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(|e| failed(path, e))?,
                };
                let mark = series.mark;
                drawn.label(series.name.as_str()).legend(move |(x, y)| match mark {
                    Mark::Line => PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)).into_dyn(),
                    Mark::Points => Circle::new((x + 10, y), 3, color.filled()).into_dyn(),
                });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(|e| failed(path, e))?;
        }
        Ok(())
    })
}

/// The colours of the per-layer lines of [`diagnostics_svg`], in order (then again).
const LINE_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named line of points (epoch, value) of a diagnostics chart.
type Line = (String, Vec<(f64, f64)>);

/// Draws the [diagnostics](crate::diagnostics) of a training [`History`] to the SVG file
/// `path`: four charts over the measured epochs (numbered from 1), one line per layer or
/// parameter, named by its path —
/// - log₁₀ of the standard deviation of every layer's output (a vanishing signal shrinks by
///   orders of magnitude; containers such as chains and residual blocks are left out: their
///   output is their last layer's, or a sum);
/// - the share of saturated (sigmoid, tanh) or dead (ReLU) units of every such layer;
/// - log₁₀ of every parameter's gradient norm ‖∂E/∂W‖;
/// - log₁₀ of every parameter's update-to-weight ratio ‖ΔW‖/‖W‖ (missing where ‖W‖ = 0).
///
/// Lines take ten colours in turn. Any network's history works: the layers are the ones
/// [`Layer::visit_outputs`](crate::Layer::visit_outputs) reports.
///
/// # Errors
/// [`Error::Plot`] if the history has no diagnostics (train with
/// [`FitConfig::diagnostics`](crate::FitConfig::diagnostics)) or drawing fails;
/// [`Error::Io`] if the file cannot be written. Nothing at `path` has changed then.
///
/// # Example
/// ```
/// use backprop::diagnostics::Diagnostics;
/// use backprop::prelude::*;
/// use nalgebra::DMatrix;
/// let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
/// let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
/// let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 4)).add(Tanh).add(Dense::new(4, 1)).add(Sigmoid).build(0)?;
/// let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(30).diagnostics(Diagnostics::every_epoch());
/// let history = net.fit(&x, &t, &mut config)?;
/// let path = std::env::temp_dir().join("backprop_doc_diagnostics.svg");
/// backprop::plot::diagnostics_svg(&path, "XOR", &history)?;
/// assert!(std::fs::read_to_string(&path)?.contains("2.weight"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diagnostics_svg(path: impl AsRef<Path>, title: &str, history: &History) -> Result<()> {
    let path = path.as_ref();
    if history.diagnostics.is_empty() {
        let message = "the history has no diagnostics (train with FitConfig::diagnostics)".to_string();
        return Err(Error::Plot { path: path.to_path_buf(), message });
    }
    // Lines in the order the first measured epoch names them; a point per epoch that has one.
    fn collect<'h, I: Iterator<Item = (&'h str, Option<f64>)>>(
        history: &'h History,
        items: impl Fn(&'h crate::diagnostics::EpochDiagnostics) -> I,
    ) -> Vec<Line> {
        let mut lines: Vec<Line> = Vec::new();
        for d in &history.diagnostics {
            for (name, value) in items(d) {
                let Some(v) = value.filter(|v| v.is_finite()) else { continue };
                let point = ((d.epoch + 1) as f64, v);
                match lines.iter_mut().find(|(n, _)| n == name) {
                    Some((_, points)) => points.push(point),
                    None => lines.push((name.to_string(), vec![point])),
                }
            }
        }
        lines
    }
    let leaf = |kind: &str| kind != "chain" && kind != "residual";
    let log10 = |v: f64| (v > 0.0).then(|| v.log10());
    let std =
        collect(history, |d| d.layers.iter().filter(|l| leaf(&l.kind)).map(move |l| (l.path.as_str(), log10(l.std))));
    let inactive = collect(history, |d| {
        d.layers.iter().map(|l| (l.path.as_str(), l.saturated.or(l.dead))).filter(|(_, v)| v.is_some())
    });
    let grads = collect(history, |d| d.params.iter().map(move |p| (p.path.as_str(), log10(p.grad_norm))));
    let ratios = collect(history, |d| d.params.iter().map(move |p| (p.path.as_str(), p.update_ratio.and_then(log10))));
    render(path, (2 * SIZE.0, 2 * SIZE.1), |root| {
        let areas = root.split_evenly((2, 2));
        let charts = [
            (format!("{title}: output standard deviation"), "log10 std", &std),
            (format!("{title}: saturated (sigmoid, tanh) or dead (ReLU) share"), "share", &inactive),
            (format!("{title}: gradient norm"), "log10 |dE/dW|", &grads),
            (format!("{title}: update / weight"), "log10 |dW| / |W|", &ratios),
        ];
        for (area, (caption, y_desc, lines)) in areas.iter().zip(charts) {
            lines_chart(area, path, &caption, y_desc, lines)?;
        }
        Ok(())
    })
}

/// One chart of named lines over epochs; a note instead when there are none.
fn lines_chart(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    path: &Path,
    title: &str,
    y_desc: &str,
    lines: &[Line],
) -> Result<()> {
    let points = lines.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1, y0, y1) = points
        .fold((f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY), |r, &(x, y)| {
            (r.0.min(x), r.1.max(x), r.2.min(y), r.3.max(y))
        });
    if x0 > x1 {
        let style = ("sans-serif", 18).into_font().color(&BLACK);
        area.titled(title, ("sans-serif", 22)).map_err(|e| failed(path, e))?;
        let at = (area.dim_in_pixel().0 as i32 / 3, area.dim_in_pixel().1 as i32 / 2);
        return area.draw_text("no such layers", &style, at).map_err(|e| failed(path, e));
    }
    let pad = |lo: f64, hi: f64| if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0 - px..x1 + px, y0 - py..y1 + py)
        .map_err(|e| failed(path, e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| failed(path, e))?;
    for (k, (name, points)) in lines.iter().enumerate() {
        let color = LINE_COLORS[k % LINE_COLORS.len()];
        let drawn = if points.len() == 1 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        } else {
            chart.draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
        };
        let drawn = drawn.map_err(|e| failed(path, e))?;
        drawn
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 12))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| failed(path, e))
}

/// One row of a [`histograms_svg`] grid: a title and the histograms drawn in it, each named.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramRow {
    /// The row's name, the start of each of its captions (`"std 0.01"`).
    pub title: String,
    /// The histograms, left to right, each with its name (`"layer 1"`, a path).
    pub cells: Vec<(String, Histogram)>,
}

impl HistogramRow {
    /// A row of every layer of `layers` that has a histogram, named by its path and kind
    /// (`"1 relu"`); e.g. the layers [`diagnostics::activations`](crate::diagnostics::activations)
    /// gives, or one epoch's [`EpochDiagnostics::layers`](crate::diagnostics::EpochDiagnostics::layers).
    pub fn new(title: impl Into<String>, layers: &[LayerStats]) -> Self {
        let cells =
            layers.iter().filter_map(|l| l.histogram.clone().map(|h| (format!("{} {}", l.path, l.kind), h))).collect();
        HistogramRow { title: title.into(), cells }
    }
}

/// Size of one histogram of a [`histograms_svg`] grid, in pixels.
const CELL: (u32, u32) = (320, 240);

/// Draws `rows` of histograms as a grid to the SVG file `path` (each histogram 320 × 240
/// pixels, a bar per bin, its height the bin's share of all the values counted, those below or
/// above a fixed range included), titled `title` — the book's figures 6-10 to 6-14 of
/// activations per layer, one row per initialization.
///
/// # Errors
/// [`Error::Plot`] if there is no row, a row has no histogram, or a histogram counted no values
/// or has non-finite edges; [`Error::Io`] if the file cannot be written. Nothing at `path` has
/// changed then.
///
/// # Example
/// ```
/// use backprop::diagnostics::Histogram;
/// use backprop::plot::{histograms_svg, HistogramRow};
/// let h = Histogram::new(&[0.1, 0.2, 0.2, 0.9], 10, Some((0.0, 1.0)));
/// let rows = [HistogramRow { title: "demo".into(), cells: vec![("layer 1".into(), h)] }];
/// let path = std::env::temp_dir().join("backprop_doc_histograms.svg");
/// histograms_svg(&path, "activations", &rows)?;
/// assert!(std::fs::read_to_string(&path)?.contains("layer 1"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn histograms_svg(path: impl AsRef<Path>, title: &str, rows: &[HistogramRow]) -> Result<()> {
    let path = path.as_ref();
    let fail = |message: String| Error::Plot { path: path.to_path_buf(), message };
    let columns = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    if columns == 0 {
        return Err(fail("no histograms to draw".into()));
    }
    for row in rows {
        if row.cells.is_empty() {
            return Err(fail(format!("no histograms in row {}", row.title)));
        }
        for (name, h) in &row.cells {
            if h.total() + h.below + h.above == 0 || !(h.low.is_finite() && h.high.is_finite() && h.low < h.high) {
                return Err(fail(format!("the histogram {name} of {} has no values or no finite range", row.title)));
            }
        }
    }
    let too_many = || fail("too many histograms".into());
    let width = CELL.0.checked_mul(u32::try_from(columns).map_err(|_| too_many())?).ok_or_else(too_many)?;
    let height = CELL.1.checked_mul(u32::try_from(rows.len()).map_err(|_| too_many())?).ok_or_else(too_many)?;
    render(path, (width, height + 40), |root| {
        let root = root.titled(title, ("sans-serif", 26)).map_err(|e| failed(path, e))?;
        let areas = root.split_evenly((rows.len(), columns));
        for (r, row) in rows.iter().enumerate() {
            for (c, (name, h)) in row.cells.iter().enumerate() {
                let total = (h.total() + h.below + h.above) as f64;
                let top = h.counts.iter().map(|&n| n as f64 / total).fold(0.0, f64::max) * 1.05;
                // An empty range (every value outside it) still gets its axes.
                let top = if top > 0.0 { top } else { 1.0 };
                let mut chart = ChartBuilder::on(&areas[r * columns + c])
                    .caption(format!("{}: {name}", row.title), ("sans-serif", 15))
                    .margin(8)
                    .x_label_area_size(26)
                    .y_label_area_size(40)
                    .build_cartesian_2d(h.low..h.high, 0.0..top)
                    .map_err(|e| failed(path, e))?;
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(5)
                    .y_labels(4)
                    .label_style(("sans-serif", 11))
                    .draw()
                    .map_err(|e| failed(path, e))?;
                let w = h.bin_width();
                let bars = h.counts.iter().enumerate().map(|(k, &n)| {
                    let x = h.low + k as f64 * w;
                    Rectangle::new([(x, 0.0), (x + w, n as f64 / total)], BLUE.mix(0.7).filled())
                });
                chart.draw_series(bars).map_err(|e| failed(path, e))?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("backprop_plot_test_{}_{name}.svg", std::process::id()))
    }

    #[test]
    fn xy_svg_draws_every_panel_and_series() {
        let path = temp("ok");
        let panels = [
            Panel { title: "left".into(), series: vec![Series::points("dots", vec![(0.0, 1.0), (1.0, 2.0)])] },
            Panel { title: "right".into(), series: vec![Series::line("curve", vec![(0.0, 0.0), (1.0, 1.0)])] },
        ];
        xy_svg(&path, &panels).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for word in ["left", "right", "dots", "curve", "width=\"1600\""] {
            assert!(svg.contains(word), "{word} missing");
        }
    }

    #[test]
    fn diagnostics_pictures_refuse_what_they_cannot_draw_and_write_nothing() {
        let path = temp("diagnostics");
        let err = diagnostics_svg(&path, "none", &History::default()).unwrap_err();
        assert!(err.to_string().contains("no diagnostics"), "{err}");
        assert!(matches!(histograms_svg(&path, "none", &[]), Err(Error::Plot { .. })));
        let empty = Histogram::new(&[], 3, Some((0.0, 1.0)));
        let rows = [HistogramRow { title: "row".into(), cells: vec![("cell".into(), empty)] }];
        let err = histograms_svg(&path, "empty", &rows).unwrap_err();
        assert!(err.to_string().contains("cell"), "{err}");
        assert!(!path.exists());
        // Every value outside the range is still a picture (with empty bars).
        let outside = Histogram::new(&[5.0, 6.0], 3, Some((0.0, 1.0)));
        let rows = [HistogramRow { title: "row".into(), cells: vec![("outside".into(), outside)] }];
        histograms_svg(&path, "outside", &rows).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.contains("row: outside"));
    }

    #[test]
    fn xy_svg_refuses_bad_input_and_writes_nothing() {
        let path = temp("bad");
        let is_plot_error = |r: Result<()>| matches!(r, Err(Error::Plot { .. }));
        assert!(is_plot_error(xy_svg(&path, &[])));
        let empty = Panel { title: "empty".into(), series: vec![Series::line("none", vec![])] };
        assert!(is_plot_error(xy_svg(&path, &[empty])));
        let nan = Panel { title: "nan".into(), series: vec![Series::line("bad", vec![(0.0, f64::NAN)])] };
        let err = xy_svg(&path, &[nan]).unwrap_err();
        assert!(err.to_string().contains("bad"), "{err}");
        assert!(!path.exists());
    }
}
