//! How [`fit`](crate::Network::fit) feeds minibatches: the inputs sample by sample, and the
//! gather of a batch's rows.
//!
//! The inputs `x` are column-major with a row per sample, so one sample's features lie a column
//! apart: gathering a shuffled batch straight from `x` reads one cache line per element. So `fit`
//! copies `x` once, sample by sample (sample `i` is column `i`, contiguous), and each batch is
//! gathered from that copy straight into the `batch × features` layout the first layer takes:
//! no transpose of the batch afterwards. The copy's memory is kept in the
//! [`FitConfig`](crate::FitConfig) between `fit` calls, so a repeated `fit` pays no page faults
//! for it.

use crate::layer::ensure_shape;
use crate::Real;
use nalgebra::DMatrix;

/// The buffers of a minibatch run, kept from batch to batch and from `fit` to `fit`.
#[derive(Debug, Clone)]
pub(crate) struct Feed<T: Real> {
    /// The training inputs sample by sample: `features × samples`.
    pub(crate) samples: DMatrix<T>,
    /// The batch's inputs, `batch × features`.
    pub(crate) x: DMatrix<T>,
    /// The batch's targets, `batch × target columns`.
    pub(crate) t: DMatrix<T>,
}

impl<T: Real> Default for Feed<T> {
    fn default() -> Self {
        Feed { samples: DMatrix::zeros(0, 0), x: DMatrix::zeros(0, 0), t: DMatrix::zeros(0, 0) }
    }
}

impl<T: Real> Feed<T> {
    /// Copies `x` (`samples × features`) into [`samples`](Feed::samples), reusing its memory.
    pub(crate) fn load(&mut self, x: &DMatrix<T>) {
        let (n, features) = x.shape();
        ensure_shape(&mut self.samples, features, n);
        transpose_into(x.as_slice(), n, features, self.samples.as_mut_slice());
    }

    /// Gathers samples `rows` into [`x`](Feed::x) and their targets from `t` into
    /// [`t`](Feed::t).
    pub(crate) fn gather(&mut self, t: &DMatrix<T>, rows: &[usize]) {
        gather_samples(&self.samples, rows, &mut self.x);
        gather_rows(t, rows, &mut self.t);
    }
}

/// Side of the square tiles of [`transpose_into`]: a tile's source and destination lines stay in
/// the first-level cache.
const TILE: usize = 32;

/// Writes the transpose of the column-major `rows × cols` matrix `src` into `dst` (column-major
/// `cols × rows`), tile by tile: reading `src` row by row would touch a cache line (and, for
/// large data, a page) per element.
fn transpose_into<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    debug_assert_eq!((src.len(), dst.len()), (rows * cols, rows * cols));
    for j0 in (0..cols).step_by(TILE) {
        let j1 = (j0 + TILE).min(cols);
        for i0 in (0..rows).step_by(TILE) {
            let i1 = (i0 + TILE).min(rows);
            for i in i0..i1 {
                let out = &mut dst[i * cols + j0..i * cols + j1];
                for (o, j) in out.iter_mut().zip(j0..j1) {
                    *o = src[j * rows + i];
                }
            }
        }
    }
}

/// Copies samples `rows` of the sample-major `xs` (sample `r` is column `r`) into the rows of
/// `out` (resized to `rows.len() × xs.nrows()`), a block of samples at a time: each feature's
/// values of the block are written side by side (a cache line: 16 `f32` or 8 `f64`), while the
/// block's samples are read front to back.
fn gather_samples<T: Real>(xs: &DMatrix<T>, rows: &[usize], out: &mut DMatrix<T>) {
    const BLOCK_BYTES: usize = 64;
    let block = (BLOCK_BYTES / std::mem::size_of::<T>()).clamp(1, 16);
    let (features, batch) = (xs.nrows(), rows.len());
    ensure_shape(out, batch, features);
    if features == 0 {
        return;
    }
    let out = out.as_mut_slice();
    let empty: &[T] = &[];
    for (b, block_rows) in rows.chunks(block).enumerate() {
        let mut sources = [empty; 16];
        for (s, &r) in sources.iter_mut().zip(block_rows) {
            *s = &xs.as_slice()[r * features..(r + 1) * features];
        }
        let sources = &sources[..block_rows.len()];
        let first = b * block;
        for (j, column) in out.chunks_exact_mut(batch).enumerate() {
            for (o, s) in column[first..first + sources.len()].iter_mut().zip(sources) {
                *o = s[j];
            }
        }
    }
}

/// Copies rows `rows` of `m` into `out` (resized to `rows.len() × m.ncols()`).
pub(crate) fn gather_rows<T: Real>(m: &DMatrix<T>, rows: &[usize], out: &mut DMatrix<T>) {
    ensure_shape(out, rows.len(), m.ncols());
    for j in 0..m.ncols() {
        let src = m.column(j);
        let mut dst = out.column_mut(j);
        for (k, &r) in rows.iter().enumerate() {
            dst[k] = src[r];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both copies against nalgebra's transpose and row selection, at shapes around the tile
    /// and block sizes.
    #[test]
    fn copies_match_nalgebra() {
        for (rows, cols) in [(1, 1), (3, 5), (31, 33), (64, 7), (100, 65), (5, 0)] {
            let x = DMatrix::<f32>::from_fn(rows, cols, |i, j| (i * 1000 + j) as f32);
            let mut feed = Feed::default();
            feed.load(&x);
            assert_eq!(feed.samples, x.transpose(), "{rows}x{cols}");
            let picks: Vec<usize> = (0..rows).rev().chain((0..rows).step_by(3)).collect();
            let t = DMatrix::<f32>::from_fn(rows, 2, |i, j| (i * 10 + j) as f32);
            feed.gather(&t, &picks);
            assert_eq!(feed.x, x.select_rows(&picks), "{rows}x{cols}");
            assert_eq!(feed.t, t.select_rows(&picks), "{rows}x{cols}");
        }
        let x = DMatrix::<f64>::from_fn(37, 11, |i, j| (i * 100 + j) as f64);
        let mut feed = Feed::default();
        feed.load(&x);
        let picks: Vec<usize> = (0..37).map(|i| (i * 7) % 37).collect();
        feed.gather(&DMatrix::zeros(37, 1), &picks);
        assert_eq!(feed.x, x.select_rows(&picks));
    }
}
