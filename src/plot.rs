//! Pictures of training, drawn with [`plotters`] (feature `plot`).
//!
//! The course's 실습 2-2 draws `Error_list` with `plt.plot`; [`loss_curve_svg`] draws a
//! [`History::loss`] the same way, to an SVG file, and [`history_svg`] draws a whole
//! [`History`]: loss and accuracy, for training and validation data.

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
            return Err(fail(format!("the {name} value of epoch {epoch} is {value}, not a finite number")));
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
        .build_cartesian_2d(0..epochs.saturating_sub(1).max(1), low..high)
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
        let line = LineSeries::new(values.iter().enumerate().map(|(e, &v)| (e, v)), color.stroke_width(2));
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
