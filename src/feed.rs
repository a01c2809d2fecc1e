//! How [`fit`](crate::Network::fit) feeds minibatches: the inputs sample by sample, and the
//! gather of a batch's samples.
//!
//! The inputs `x` are column-major with a row per sample, so one sample's features lie a column
//! apart: gathering a shuffled batch straight from `x` reads one cache line per element. So `fit`
//! copies `x` once per call, sample by sample (sample `i` is column `i`, contiguous), and each
//! batch is gathered from that copy, a contiguous copy per sample, into a `features × batch`
//! matrix. [`fit_samples`](crate::Network::fit_samples) is given the inputs in that layout, and
//! its batches are gathered from them: no copy of the data set. A network whose first layer
//! [takes samples](crate::Layer::takes_samples) (a [`Dense`](crate::Dense) reads it as a
//! transposed factor of its product) gets that matrix as it is; any other gets it transposed into
//! the `batch × features` layout of [`train_step`](crate::Network::train_step). All these buffers are kept in the
//! [`FitConfig`](crate::FitConfig) between `fit` calls, so a repeated `fit` allocates nothing for
//! them (the 188 MB copy of MNIST cost as much in page faults as in copying).

use crate::layer::{ensure_shape, Input};
use crate::Real;
use nalgebra::{DMatrix, DMatrixViewMut};

/// The buffers of a minibatch run, kept from batch to batch and from `fit` to `fit`.
#[derive(Debug, Clone)]
pub(crate) struct Feed<T: Real> {
    /// The training inputs sample by sample: `features × samples`.
    pub(crate) samples: DMatrix<T>,
    /// The batch's inputs, `batch × features` (gathered only for a network that does not take
    /// samples).
    x: DMatrix<T>,
    /// The batch's targets, `batch × target columns`.
    t: DMatrix<T>,
    /// The batch's inputs sample by sample, `features × batch`.
    batch: DMatrix<T>,
}

impl<T: Real> Default for Feed<T> {
    fn default() -> Self {
        let empty = || DMatrix::zeros(0, 0);
        Feed { samples: empty(), x: empty(), t: empty(), batch: empty() }
    }
}

impl<T: Real> Feed<T> {
    /// Copies `x` (`samples × features`) into [`samples`](Feed::samples), reusing its memory.
    pub(crate) fn load(&mut self, x: &DMatrix<T>) {
        let (n, features) = x.shape();
        if self.samples.shape() != (features, n) {
            // Zeroed by the allocator (`calloc`): untouched pages, which the copy below touches
            // first, where `resize` would have written 188 MB of zeros for MNIST beforehand.
            self.samples = DMatrix::from_vec(features, n, vec![T::zero(); features * n]);
        }
        // Parts of whole samples across the crate's threads: the copy waits on memory and, in a
        // new buffer, on the kernel's page faults, which two cores serve side by side. Within a
        // part, nalgebra's transpose measured faster here than a tiled one (1.7% of an
        // mnist-mlp profile against 5.9%).
        let features_per_sample = features.max(1);
        crate::layer::parts::for_each_part(self.samples.as_mut_slice(), features_per_sample, |offset, part| {
            let (first, count) = (offset / features_per_sample, part.len() / features_per_sample);
            let mut samples = DMatrixViewMut::from_slice(part, features, count);
            x.rows(first, count).transpose_to(&mut samples);
        });
    }

    /// Gathers samples `rows` of `given` (`features × samples`), else of the [loaded](Feed::load)
    /// copy, and their targets from `t`; returns the batch's inputs (sample by sample when
    /// `by_samples`, else transposed into rows) and targets.
    pub(crate) fn gather(
        &mut self,
        given: Option<&DMatrix<T>>,
        t: &DMatrix<T>,
        rows: &[usize],
        by_samples: bool,
    ) -> (Input<'_, T>, &DMatrix<T>) {
        gather_samples(given.unwrap_or(&self.samples), rows, &mut self.batch);
        gather_rows(t, rows, &mut self.t);
        if by_samples {
            (Input::Samples(&self.batch), &self.t)
        } else {
            ensure_shape(&mut self.x, rows.len(), self.batch.nrows());
            self.batch.transpose_to(&mut self.x);
            (Input::Rows(&self.x), &self.t)
        }
    }
}

/// Copies samples `rows` of the sample-major `xs` (sample `r` is column `r`) into the columns of
/// `out` (resized to `xs.nrows() × rows.len()`), one contiguous copy per sample.
///
/// Measured against gathering straight into the `batch × features` layout a block of 16 samples
/// at a time (each feature's 16 values written side by side): that took 9.9% of an mnist-mlp
/// profile, these copies and a transpose after them about 9%.
fn gather_samples<T: Real>(xs: &DMatrix<T>, rows: &[usize], out: &mut DMatrix<T>) {
    let features = xs.nrows();
    ensure_shape(out, features, rows.len());
    // Large batches in parts of whole samples across the crate's threads: each copy waits on
    // memory (a shuffled sample is rarely in a cache), and a second core waits alongside.
    let features = features.max(1);
    crate::layer::parts::for_each_part(out.as_mut_slice(), features, |offset, part| {
        let picks = rows.get(offset / features..).unwrap_or_default();
        for (dst, &r) in part.chunks_exact_mut(features).zip(picks) {
            dst.copy_from_slice(xs.column(r).as_slice());
        }
    });
}

/// Copies rows `rows` of `m` into `out` (resized to `rows.len() × m.ncols()`).
pub(crate) fn gather_rows<T: Real>(m: &DMatrix<T>, rows: &[usize], out: &mut DMatrix<T>) {
    ensure_shape(out, rows.len(), m.ncols());
    // Column by column (nalgebra is column-major); `rows` index the rows of `m` (a shuffled
    // 0..n from `fit`), so the zero fallback is never taken.
    let (height, batch) = (m.nrows().max(1), rows.len().max(1));
    for (src, dst) in m.as_slice().chunks_exact(height).zip(out.as_mut_slice().chunks_exact_mut(batch)) {
        for (d, &r) in dst.iter_mut().zip(rows) {
            *d = src.get(r).copied().unwrap_or_else(T::zero);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both copies against nalgebra's transpose and row selection.
    #[test]
    fn copies_match_nalgebra() {
        // 1200 × 60: batches of 1600 × 60 values, gathered in parts on more than one thread;
        // 3001 × 50 also loaded in parts (of whole samples, the last one shorter).
        for (rows, cols) in [(1, 1), (3, 5), (31, 33), (64, 7), (100, 65), (5, 0), (1200, 60), (3001, 50)] {
            let x = DMatrix::<f32>::from_fn(rows, cols, |i, j| (i * 1000 + j) as f32);
            let mut feed = Feed::default();
            feed.load(&x);
            assert_eq!(feed.samples, x.transpose(), "{rows}x{cols}");
            let picks: Vec<usize> = (0..rows).rev().chain((0..rows).step_by(3)).collect();
            let t = DMatrix::<f32>::from_fn(rows, 2, |i, j| (i * 10 + j) as f32);
            let (Input::Samples(xs), t_batch) = feed.gather(None, &t, &picks, true) else {
                panic!("asked for samples")
            };
            assert_eq!(*xs, x.select_rows(&picks).transpose(), "{rows}x{cols}");
            assert_eq!(*t_batch, t.select_rows(&picks), "{rows}x{cols}");
            let (Input::Rows(x_rows), _) = feed.gather(None, &t, &picks, false) else { panic!("asked for rows") };
            assert_eq!(*x_rows, x.select_rows(&picks), "{rows}x{cols}");
        }
        // A second load into the same buffer, and one of another shape after it.
        let mut feed = Feed::default();
        for (round, (rows, cols)) in [(3001, 50), (3001, 50), (2000, 75)].into_iter().enumerate() {
            let x = DMatrix::<f32>::from_fn(rows, cols, |i, j| (i * 7 + j * 3 + round) as f32);
            feed.load(&x);
            assert_eq!(feed.samples, x.transpose(), "reloaded {rows}x{cols}");
        }
        let x = DMatrix::<f64>::from_fn(37, 11, |i, j| (i * 100 + j) as f64);
        let mut feed = Feed::default();
        feed.load(&x);
        let picks: Vec<usize> = (0..37).map(|i| (i * 7) % 37).collect();
        let (Input::Rows(x_rows), _) = feed.gather(None, &DMatrix::zeros(37, 1), &picks, false) else {
            panic!("asked for rows")
        };
        assert_eq!(*x_rows, x.select_rows(&picks));
    }
}
