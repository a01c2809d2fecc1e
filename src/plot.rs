//! Pictures of training, drawn with [`plotters`] (feature `plot`).
//!
//! The course's 실습 2-2 draws `Error_list` with `plt.plot`; [`loss_curve_svg`] draws a
//! [`History::loss`](crate::History::loss) the same way, to an SVG file.

use crate::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

/// Width and height of the picture, in pixels.
const SIZE: (u32, u32) = (800, 500);

/// Draws `losses` (one value per epoch, e.g. [`History::loss`](crate::History::loss)) as a line
/// over the epochs and writes it to the SVG file `path`, titled `title`, with the axes labelled
/// "epoch" and "error".
///
/// The vertical axis is linear and starts at 0 (or at the smallest value, if that is negative).
/// The picture is drawn in memory and written to a temporary file in the same folder, which is
/// then renamed to `path`, so `path` holds either its old contents or the whole new picture.
///
/// # Errors
/// [`Error::Plot`] if `losses` is empty or holds a NaN or infinite value (naming the epoch), if
/// `path` names no file, or if drawing, writing or renaming fails. Nothing at `path` has changed
/// then.
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
    let fail = |message: String| Error::Plot {
        path: path.display().to_string(),
        message,
    };
    if losses.is_empty() {
        return Err(fail("no loss values to draw".into()));
    }
    if let Some((epoch, value)) = losses.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(fail(format!("the loss of epoch {epoch} is {value}, not a finite number")));
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| fail("the path names no file".into()))?;

    let svg = draw(title, losses).map_err(|e| fail(format!("drawing failed: {e}")))?;

    // Write next to the target, then rename over it: readers never see half a picture.
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    std::fs::write(&temp, svg).map_err(|e| fail(format!("cannot write {}: {e}", temp.display())))?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        fail(format!("cannot rename {} to it: {e}", temp.display()))
    })
}

/// Renders the chart into an SVG document in memory.
fn draw(title: &str, losses: &[f64]) -> std::result::Result<String, Box<dyn std::error::Error>> {
    let (min, max) = losses
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let low = min.min(0.0);
    let high = if max > low { max + 0.05 * (max - low) } else { low + 1.0 };
    let decimals = (-(high - low).log10()).ceil().clamp(0.0, 6.0) as usize + 1;
    let last_epoch = losses.len().saturating_sub(1).max(1);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0..last_epoch, low..high)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("error")
            .y_label_formatter(&|v| format!("{v:.decimals$}"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 18))
            .draw()?;
        chart.draw_series(LineSeries::new(
            losses.iter().enumerate().map(|(epoch, &loss)| (epoch, loss)),
            BLUE.stroke_width(2),
        ))?;
        root.present()?;
    }
    Ok(svg)
}
