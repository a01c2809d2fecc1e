//! Pictures of training, drawn with [`plotters`] (feature `plot`).
//!
//! The course's 실습 2-2 draws `Error_list` with `plt.plot`; [`loss_curve_svg`] draws a
//! [`History::loss`] the same way, to an SVG file, and [`history_svg`] draws a whole
//! [`History`]: loss and accuracy, for training and validation data. [`xy_svg`] draws points and
//! curves over x (data, fitted lines, a target function and its approximations), in panels side
//! by side; [`grid_svg`] draws such panels in a grid, with named axes and grey guide lines
//! (contours) under them, and [`images_svg`] draws rows of small grey images. [`diagnostics_svg`]
//! draws the per-layer [diagnostics](crate::diagnostics) of a `History` over the epochs, and
//! [`histograms_svg`] a grid of activation histograms.

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

/// Series `k`'s colour: the palette's colours in turn.
fn nth_color(palette: &[RGBColor], k: usize) -> RGBColor {
    palette.get(k % palette.len().max(1)).copied().unwrap_or(BLACK)
}

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
                let color = nth_color(&PALETTE, k);
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

/// How a [`grid_svg`] figure is laid out: panels in rows of `columns`, each `panel_size` pixels,
/// with these axis names and, optionally, fixed axis ranges shared by every panel (otherwise
/// each panel spans its own points).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Panels per row (at least 1).
    pub columns: usize,
    /// Width and height of one panel, in pixels.
    pub panel_size: (u32, u32),
    /// The horizontal axis's name, e.g. `"epoch"`.
    pub x_label: String,
    /// The vertical axis's name, e.g. `"accuracy"`.
    pub y_label: String,
    /// `(low, high)` of every panel's horizontal axis, or `None` to fit each panel's points.
    pub x_range: Option<(f64, f64)>,
    /// `(low, high)` of every panel's vertical axis, or `None` to fit each panel's points.
    pub y_range: Option<(f64, f64)>,
    /// Where each panel's legend goes.
    pub legend: Legend,
    /// A caption above the whole figure, e.g. to name the series once when the legends are
    /// [hidden](Legend::Hidden).
    pub title: Option<String>,
}

/// Where the legend of a [`grid_svg`] panel goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// The upper left corner.
    UpperLeft,
    /// The upper right corner (falling curves).
    UpperRight,
    /// The lower left corner.
    LowerLeft,
    /// The lower right corner (rising curves, paths); the default of [`Grid::new`].
    LowerRight,
    /// No legend.
    Hidden,
}

impl Grid {
    /// `columns` panels per row of 560 × 400 pixels, axes named `x_label` and `y_label`, ranges
    /// fitted to each panel's points.
    pub fn new(columns: usize, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Grid {
            columns,
            panel_size: (560, 400),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_range: None,
            y_range: None,
            legend: Legend::LowerRight,
            title: None,
        }
    }
}

/// One chart of a [`grid_svg`] figure: an [`xy_svg`] [`Panel`] plus thin grey `guides` drawn
/// under its series and left out of the legend (contour lines, reference levels).
#[derive(Debug, Clone, PartialEq)]
pub struct GridPanel {
    /// The caption and the series (coloured in order as in [`xy_svg`]).
    pub panel: Panel,
    /// Polylines drawn in light grey, without legend entries.
    pub guides: Vec<Vec<(f64, f64)>>,
}

impl From<Panel> for GridPanel {
    fn from(panel: Panel) -> Self {
        GridPanel { panel, guides: Vec::new() }
    }
}

/// Draws `panels` in a grid laid out by `grid` (rows of `grid.columns`) to the SVG file `path`:
/// learning curves of many runs side by side, optimizer paths over contour lines. Guides are
/// clipped to a fixed range; series points must lie in it. The file is written atomically.
///
/// # Errors
/// [`Error::Plot`] if there are no panels, `grid.columns` is 0, a panel has no series point, a
/// point or range bound is NaN or infinite, a fixed range is empty, or drawing fails;
/// [`Error::Io`] if the file cannot be written. Nothing at `path` has changed then.
///
/// # Example
/// ```
/// use backprop::plot::{grid_svg, Grid, GridPanel, Panel, Series};
/// let panels: Vec<GridPanel> = (1..=4)
///     .map(|k| Panel { title: format!("run {k}"), series: vec![Series::line("loss", vec![(1.0, 1.0 / k as f64), (2.0, 0.5 / k as f64)])] }.into())
///     .collect();
/// let path = std::env::temp_dir().join("backprop_doc_grid.svg");
/// grid_svg(&path, &Grid::new(2, "epoch", "loss"), &panels)?;
/// assert!(std::fs::read_to_string(&path)?.contains("run 4"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn grid_svg(path: impl AsRef<Path>, grid: &Grid, panels: &[GridPanel]) -> Result<()> {
    let path = path.as_ref();
    let fail = |message: String| Error::Plot { path: path.to_path_buf(), message };
    if panels.is_empty() || grid.columns == 0 {
        return Err(fail(format!("{} panels in rows of {}: nothing to draw", panels.len(), grid.columns)));
    }
    let fixed_ok = |r: Option<(f64, f64)>| r.is_none_or(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi);
    if !fixed_ok(grid.x_range) || !fixed_ok(grid.y_range) {
        return Err(fail(format!(
            "axis ranges {:?} and {:?} must be finite and increasing",
            grid.x_range, grid.y_range
        )));
    }
    let mut ranges = Vec::with_capacity(panels.len());
    for GridPanel { panel, guides } in panels {
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
        if guides.iter().flatten().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return Err(fail(format!("a guide line of {} has a point that is not finite", panel.title)));
        }
        if x_lo > x_hi {
            return Err(fail(format!("no points to draw in {}", panel.title)));
        }
        let pad = |lo: f64, hi: f64| if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
        let (px, py) = (pad(x_lo, x_hi), pad(y_lo, y_hi));
        let (x0, x1) = grid.x_range.unwrap_or((x_lo - px, x_hi + px));
        let (y0, y1) = grid.y_range.unwrap_or((y_lo - py, y_hi + py));
        if !(x1 - x0).is_finite() || !(y1 - y0).is_finite() {
            return Err(fail(format!("cannot scale the axes of {} to its points", panel.title)));
        }
        ranges.push((x0, x1, y0, y1));
    }
    let fail_size = || fail("the figure is too large".into());
    let columns = grid.columns.min(panels.len());
    let rows = panels.len().div_ceil(columns);
    let width = u32::try_from(columns).ok().and_then(|c| c.checked_mul(grid.panel_size.0)).ok_or_else(fail_size)?;
    let height = u32::try_from(rows).ok().and_then(|r| r.checked_mul(grid.panel_size.1)).ok_or_else(fail_size)?;
    let title_height = if grid.title.is_some() { 40 } else { 0 };
    let guide_color = RGBColor(190, 190, 190);
    render(path, (width, height + title_height), |root| {
        let root = match &grid.title {
            Some(title) => root.titled(title, ("sans-serif", 24)).map_err(|e| failed(path, e))?,
            None => root.clone(),
        };
        for ((area, GridPanel { panel, guides }), &(x0, x1, y0, y1)) in
            root.split_evenly((rows, columns)).iter().zip(panels).zip(&ranges)
        {
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(52)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| failed(path, e))?;
            // As many decimals as the axis's span needs (none for iterations and epochs).
            let decimals = |span: f64| (1.0 - span.log10()).ceil().clamp(0.0, 6.0) as usize;
            let (dx, dy) = (decimals(x1 - x0), decimals(y1 - y0));
            let (x_fmt, y_fmt) = (move |v: &f64| format!("{v:.dx$}"), move |v: &f64| format!("{v:.dy$}"));
            chart
                .configure_mesh()
                .x_desc(grid.x_label.as_str())
                .y_desc(grid.y_label.as_str())
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .label_style(("sans-serif", 12))
                .axis_desc_style(("sans-serif", 14))
                .draw()
                .map_err(|e| failed(path, e))?;
            for guide in guides {
                let inside = guide.iter().copied().filter(|&(x, y)| x >= x0 && x <= x1 && y >= y0 && y <= y1);
                chart.draw_series(LineSeries::new(inside, guide_color.stroke_width(1))).map_err(|e| failed(path, e))?;
            }
            for (k, series) in panel.series.iter().enumerate() {
                let color = nth_color(&PALETTE, k);
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
            let position = match grid.legend {
                Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
                Legend::UpperRight => SeriesLabelPosition::UpperRight,
                Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
                Legend::LowerRight => SeriesLabelPosition::LowerRight,
                Legend::Hidden => continue,
            };
            chart
                .configure_series_labels()
                .position(position)
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| failed(path, e))?;
        }
        Ok(())
    })
}

/// Draws rows of small grey images to the SVG file `path`: each row a label and its images,
/// each image `height × width` pixels given in reading order (one flattened sample, as the
/// data module's rows are), each pixel a `cell × cell` square. Every image is scaled to its own
/// range, its smallest value black and its largest white, so whitened images (any sign, any
/// scale) can be compared with the originals. The file is written atomically.
///
/// # Errors
/// [`Error::Plot`] if there is no image, an image does not have `height · width` values, a
/// value is NaN or infinite, or drawing fails; [`Error::Io`] if the file cannot be written.
///
/// # Example
/// ```
/// let ramp: Vec<f64> = (0..16).map(f64::from).collect();
/// let path = std::env::temp_dir().join("backprop_doc_images.svg");
/// backprop::plot::images_svg(&path, (4, 4), 10, &[("ramp", vec![ramp])])?;
/// assert!(std::fs::read_to_string(&path)?.contains("ramp"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn images_svg(
    path: impl AsRef<Path>,
    (height, width): (usize, usize),
    cell: u32,
    rows: &[(&str, Vec<Vec<f64>>)],
) -> Result<()> {
    let path = path.as_ref();
    let fail = |message: String| Error::Plot { path: path.to_path_buf(), message };
    let per_row = rows.iter().map(|(_, images)| images.len()).max().unwrap_or(0);
    if per_row == 0 || height == 0 || width == 0 || cell == 0 {
        return Err(fail(format!("no images of {height}x{width} pixels to draw")));
    }
    let Some(pixels) = height.checked_mul(width) else {
        return Err(fail(format!("images of {height}x{width} pixels are too large to draw")));
    };
    for (label, images) in rows {
        for (k, image) in images.iter().enumerate() {
            if image.len() != pixels {
                return Err(fail(format!("image {k} of {label} has {} values, not {height}x{width}", image.len())));
            }
            if let Some(v) = image.iter().find(|v| !v.is_finite()) {
                return Err(fail(format!("image {k} of {label} holds {v}, not a finite number")));
            }
        }
    }
    let too_large = || fail("the figure is too large".into());
    let as_u32 = |n: usize| u32::try_from(n).ok();
    let (label_width, gap) = (120_u32, 8_u32);
    let tile = |n: usize| as_u32(n).and_then(|n| n.checked_mul(cell));
    let (tile_w, tile_h) = (tile(width).ok_or_else(too_large)?, tile(height).ok_or_else(too_large)?);
    // Every sum below is checked here once, and the figure's sides fit the drawing's i32
    // coordinates, so the positions computed while drawing cannot overflow.
    let fig_w = tile_w
        .checked_add(gap)
        .and_then(|step| as_u32(per_row)?.checked_mul(step))
        .and_then(|w| w.checked_add(label_width + gap))
        .filter(|&w| i32::try_from(w).is_ok())
        .ok_or_else(too_large)?;
    let fig_h = tile_h
        .checked_add(gap)
        .and_then(|step| as_u32(rows.len())?.checked_mul(step))
        .and_then(|h| h.checked_add(gap))
        .filter(|&h| i32::try_from(h).is_ok())
        .ok_or_else(too_large)?;
    render(path, (fig_w, fig_h), |root| {
        for (r, (label, images)) in rows.iter().enumerate() {
            let top = (gap + r as u32 * (tile_h + gap)) as i32;
            let text = Text::new(label.to_string(), (8, top + tile_h as i32 / 2 - 8), ("sans-serif", 16).into_font());
            root.draw(&text).map_err(|e| failed(path, e))?;
            for (k, image) in images.iter().enumerate() {
                let left = (label_width + gap + k as u32 * (tile_w + gap)) as i32;
                let (lo, hi) = image.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                let span = if hi > lo { hi - lo } else { 1.0 };
                for (p, &v) in image.iter().enumerate() {
                    let grey = (255.0 * (v - lo) / span).round().clamp(0.0, 255.0) as u8;
                    let (i, j) = ((p / width) as i32, (p % width) as i32);
                    let (c, x, y) = (cell as i32, left + j * cell as i32, top + i * cell as i32);
                    let square = Rectangle::new([(x, y), (x + c, y + c)], RGBColor(grey, grey, grey).filled());
                    root.draw(&square).map_err(|e| failed(path, e))?;
                }
            }
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
        let color = nth_color(&LINE_COLORS, k);
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
        // One area per cell, row by row: `columns` areas to a row.
        for (row, row_areas) in rows.iter().zip(areas.chunks(columns.max(1))) {
            for ((name, h), area) in row.cells.iter().zip(row_areas) {
                let total = (h.total() + h.below + h.above) as f64;
                let top = h.counts.iter().map(|&n| n as f64 / total).fold(0.0, f64::max) * 1.05;
                // An empty range (every value outside it) still gets its axes.
                let top = if top > 0.0 { top } else { 1.0 };
                let mut chart = ChartBuilder::on(area)
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
}
