//! `plot::grid_svg` and `plot::images_svg` (feature `plot`).
#![cfg(feature = "plot")]

use backprop::plot::{grid_svg, images_svg, Grid, GridPanel, Legend, Panel, Series};
use backprop::Error;
use std::path::PathBuf;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("backprop_plot_grid_{}_{name}.svg", std::process::id()))
}

fn panel(title: &str) -> GridPanel {
    let series = vec![Series::line("a", vec![(1.0, 0.1), (2.0, 0.5)]), Series::points("b", vec![(1.5, 0.3)])];
    GridPanel { panel: Panel { title: title.into(), series }, guides: vec![vec![(-1.0, 0.0), (0.0, 0.2), (9.0, 9.0)]] }
}

#[test]
fn grid_svg_lays_panels_out_in_rows_with_title_and_guides() {
    let path = temp("ok");
    let mut grid = Grid::new(2, "epoch", "accuracy");
    grid.title = Some("the figure".into());
    grid.x_range = Some((0.0, 3.0));
    grid.y_range = Some((0.0, 1.0));
    grid_svg(&path, &grid, &[panel("one"), panel("two"), panel("three")]).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    // Two columns of 560 pixels, two rows of 400 plus the title's 40.
    for word in ["one", "two", "three", "the figure", "epoch", "accuracy", "width=\"1120\"", "height=\"840\""] {
        assert!(svg.contains(word), "{word} missing");
    }
    // The guide's light grey is drawn.
    assert!(svg.contains("#BEBEBE"), "guide colour missing");
    grid.legend = Legend::Hidden;
    grid_svg(&path, &grid, &[panel("one")]).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(svg.contains("width=\"560\""));
}

#[test]
fn grid_svg_refuses_bad_input_and_writes_nothing() {
    let path = temp("bad");
    let is_plot_error = |r: backprop::Result<()>| matches!(r, Err(Error::Plot { .. }));
    let grid = Grid::new(2, "x", "y");
    assert!(is_plot_error(grid_svg(&path, &grid, &[])));
    assert!(is_plot_error(grid_svg(&path, &Grid::new(0, "x", "y"), &[panel("p")])));
    let mut backwards = grid.clone();
    backwards.y_range = Some((1.0, 0.0));
    assert!(is_plot_error(grid_svg(&path, &backwards, &[panel("p")])));
    let mut nan = panel("nan");
    nan.guides = vec![vec![(0.0, f64::NAN)]];
    assert!(is_plot_error(grid_svg(&path, &grid, &[nan])));
    let empty = GridPanel::from(Panel { title: "empty".into(), series: vec![Series::line("none", vec![])] });
    assert!(is_plot_error(grid_svg(&path, &grid, &[empty])));
    assert!(!path.exists());
}

#[test]
fn images_svg_draws_each_pixel_and_refuses_wrong_sizes() {
    let path = temp("images");
    let ramp: Vec<f64> = (0..6).map(f64::from).collect();
    images_svg(&path, (2, 3), 5, &[("ramp", vec![ramp.clone(), ramp.clone()]), ("one", vec![ramp.clone()])]).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    // Each image scaled to its own range: its smallest value black, its largest white.
    assert!(svg.contains("#000000") && svg.contains("#FFFFFF"), "no black or white pixel");
    assert_eq!(svg.matches("<rect").count(), 1 + 3 * 6, "background plus one square per pixel");
    let is_plot_error = |r: backprop::Result<()>| matches!(r, Err(Error::Plot { .. }));
    assert!(is_plot_error(images_svg(&path, (2, 3), 5, &[("short", vec![vec![0.0; 5]])])));
    assert!(is_plot_error(images_svg(&path, (2, 3), 5, &[("nan", vec![vec![f64::NAN; 6]])])));
    assert!(is_plot_error(images_svg(&path, (2, 3), 5, &[])));
    assert!(!path.exists());
}

/// Sizes whose products or sums overflow are refused as too large (they panicked in debug
/// builds and wrapped in release), and nothing is written.
#[test]
fn images_svg_refuses_sizes_that_overflow() {
    let path = temp("overflow");
    let err = images_svg(&path, (usize::MAX, 2), 10, &[("a", vec![vec![0.0]])]).unwrap_err();
    assert!(matches!(&err, Error::Plot { message, .. } if message.contains("too large")), "{err:?}");
    let err = images_svg(&path, (1, 1), u32::MAX, &[("a", vec![vec![0.0]; 3])]).unwrap_err();
    assert!(matches!(&err, Error::Plot { message, .. } if message.contains("too large")), "{err:?}");
    // Past i32 coordinates: 2³¹ pixels wide.
    let err = images_svg(&path, (1, 1), 1 << 31, &[("a", vec![vec![0.0]])]).unwrap_err();
    assert!(matches!(&err, Error::Plot { message, .. } if message.contains("too large")), "{err:?}");
    assert!(!path.exists());
}
