//! What several of the course's examples share: the XOR data, NumPy's seed-0 starting weights,
//! and printing a matrix the way NumPy's `print` shows an array.
#![allow(dead_code)] // each example uses a part

use nalgebra::DMatrix;

/// The course's inputs `X` (4 × 2) and XOR targets `Y` (4 × 1).
pub fn xor_data() -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    (x, t)
}

/// `W_layer_1` (2 × 3) as `xor_numpy.py` draws it: `np.random.seed(0)`, U(0, 1)
/// (`../shared/bench/README.md`).
pub fn numpy_w1() -> DMatrix<f64> {
    DMatrix::from_row_slice(
        2,
        3,
        &[
            0.5488135039273248,
            0.7151893663724195,
            0.6027633760716439,
            0.5448831829968969,
            0.4236547993389047,
            0.6458941130666561,
        ],
    )
}

/// `W_layer_2` (3 × 1), drawn right after [`numpy_w1`].
pub fn numpy_w2() -> DMatrix<f64> {
    DMatrix::from_row_slice(3, 1, &[0.4375872112626925, 0.8917730007820798, 0.9636627605010293])
}

/// A matrix in NumPy's block layout, e.g. `[[0.07607478]\n [0.95087552]]`: rows in brackets,
/// one per line, every entry with `decimals` decimals (`0`: whole numbers, as an integer array
/// prints) and right-aligned to the widest.
pub fn block(m: &DMatrix<f64>, decimals: usize) -> String {
    let cells: Vec<String> = m.iter().map(|v| format!("{v:.decimals$}")).collect();
    let width = cells.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut out = String::from("[");
    for i in 0..m.nrows() {
        if i > 0 {
            out.push_str("\n ");
        }
        let row: Vec<String> = (0..m.ncols()).map(|j| format!("{:>width$}", cells[j * m.nrows() + i])).collect();
        out.push_str(&format!("[{}]", row.join(" ")));
    }
    out.push(']');
    out
}

/// The entries of `m`, row by row, joined by commas, each with `decimals` decimals: the form of a
/// `result:` line's values.
pub fn csv(m: &DMatrix<f64>, decimals: usize) -> String {
    let mut cells = Vec::with_capacity(m.len());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            cells.push(format!("{:.decimals$}", m[(i, j)]));
        }
    }
    cells.join(",")
}
