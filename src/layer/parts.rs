//! Memory-bound passes — the layers' element-wise functions, pooling and im2col, the optimizers'
//! passes over a large parameter, `fit`'s gather of a batch — split across the crate's threads
//! ([`crate::threads`]).
//!
//! These passes read and write megabytes per batch (a SimpleConvNet batch's ReLU alone is
//! 1.7 million values each way) and compute little, so one core waits on memory; a second core
//! brings its own caches and memory requests. Each output value is computed by exactly one
//! thread, in the same way whatever the split: results do not depend on the thread count.

use crate::threads;
use rayon::prelude::*;

/// Below this many output values a pass stays on the calling thread: handing work to another
/// thread costs a wake-up of a few microseconds, more than such a pass takes.
const MIN_PART: usize = 1 << 15;

/// How many parts `len` values in units of `unit` make: one per thread, none smaller than
/// [`MIN_PART`], each a whole number of units. Returns the values per part.
pub(crate) fn part_len(len: usize, unit: usize) -> usize {
    // Short passes (most of them: a small network's every pass) skip the divisions below.
    if len < 2 * MIN_PART {
        return len.max(1);
    }
    let unit = unit.max(1);
    let units = len / unit;
    let parts = threads::get().min(len / MIN_PART).min(units).max(1);
    units.div_ceil(parts).max(1) * unit
}

/// Calls `f(offset, part)` for contiguous parts of `out` that together cover it — each a whole
/// number of `unit`s, `offset` its first index in `out` — on the crate's threads when `out` is
/// large, else once on the calling thread with the whole of `out`.
pub(crate) fn for_each_part<A: Send>(out: &mut [A], unit: usize, f: impl Fn(usize, &mut [A]) + Sync) {
    let per = part_len(out.len(), unit);
    if per >= out.len() {
        f(0, out);
        return;
    }
    threads::on_pool(|| out.par_chunks_mut(per).enumerate().for_each(|(i, part)| f(i * per, part)));
}

/// As [`for_each_part`] for two outputs of the same length split alike.
pub(crate) fn for_each_part2<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    unit: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    debug_assert_eq!(a.len(), b.len());
    let per = part_len(a.len(), unit);
    if per >= a.len() {
        f(0, a, b);
        return;
    }
    threads::on_pool(|| {
        a.par_chunks_mut(per).zip(b.par_chunks_mut(per)).enumerate().for_each(|(i, (pa, pb))| f(i * per, pa, pb))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_output_once_in_whole_units() {
        for (len, unit) in [(0, 1), (10, 1), (1 << 20, 1), ((1 << 20) + 7, 1), (300_000, 100), (1 << 16, 1 << 16)] {
            let mut out = vec![0u32; len];
            for_each_part(&mut out, unit, |offset, part| {
                assert_eq!(offset % unit, 0);
                assert!(part.len() % unit == 0 || offset + part.len() == len);
                part.iter_mut().enumerate().for_each(|(i, v)| *v += (offset + i) as u32 + 1);
            });
            assert!(out.iter().enumerate().all(|(i, &v)| v == i as u32 + 1), "len {len} unit {unit}");
        }
    }
}
