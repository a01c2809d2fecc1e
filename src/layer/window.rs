//! Sliding windows over images: the geometry shared by convolution and pooling, and im2col /
//! col2im.
//!
//! # Layout
//! A batch of `N` images is an `N × (C·H·W)` matrix (one image per row, channel-first), stored
//! column-major: pixel `(c, h, w)` of every sample is one contiguous run of `N` numbers, at
//! `((c·H + h)·W + w)·N`. Every loop here moves such runs, so the inner loops are over samples
//! and vectorize.
//!
//! The im2col matrix has one row per (output position, sample) — row `p·N + n` for output pixel
//! `p = oh·OW + ow` of sample `n` — and one column per (channel, kernel row, kernel column),
//! `k = (c·KH + i)·KW + j`: `(OH·OW·N) × (C·KH·KW)`. Ordered so, its product with the filters
//! (`(OH·OW·N) × F`, column-major) is element for element the convolution's output
//! `N × (F·OH·OW)`: no reordering after the product.

use super::parts;
use super::Shape;
use crate::{Error, LayerId, Real, Result};

/// Where a window of `kh × kw` slides over a `channels × height × width` input with `stride` and
/// zero `padding` on every side, and the `out_h × out_w` positions it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    pub(crate) channels: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    pub(crate) out_h: usize,
    pub(crate) out_w: usize,
}

impl Windows {
    /// The geometry for `input`, with `OH = (H + 2P − KH) / S + 1` (and the same for widths).
    ///
    /// Every count the layers take from it — `C·H·W`, `C·KH·KW`, `OH·OW` — fits in a `usize`,
    /// so the methods below and the layers' loops need no checked arithmetic.
    ///
    /// # Errors
    /// [`Error::InputShape`] unless `input` is an image with no zero dimension whose `C·H·W` and
    /// `C·KH·KW` can be counted;
    /// [`Error::InvalidConfig`] for a zero kernel size or stride;
    /// [`Error::WindowMismatch`] for a window larger than the padded input, or whose `KH·KW`
    /// pixels or output positions `OH·OW` cannot be counted.
    pub(crate) fn new(
        layer: &'static str,
        input: Shape,
        (kh, kw): (usize, usize),
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let Shape::Image { channels, height, width } = input else {
            return Err(Error::InputShape {
                layer: LayerId::kind(layer),
                expected: "an image CxHxW".into(),
                got: input,
            });
        };
        if channels == 0 || height == 0 || width == 0 {
            return Err(Error::InputShape {
                layer: LayerId::kind(layer),
                expected: "an image CxHxW with no zero dimension".into(),
                got: input,
            });
        }
        super::counted(input, layer)?;
        for (name, value) in [("kernel height", kh), ("kernel width", kw), ("stride", stride)] {
            if value == 0 {
                return Err(Error::InvalidConfig { name, value: "0".into(), expected: ">= 1" });
            }
        }
        let mismatch = |why| Error::WindowMismatch {
            layer: LayerId::kind(layer),
            window: format!("{kh}x{kw}"),
            stride,
            padding,
            height,
            width,
            why,
        };
        let padded = |n: usize| padding.checked_mul(2).and_then(|p| p.checked_add(n));
        let (Some(ph), Some(pw)) = (padded(height), padded(width)) else {
            return Err(mismatch("the padding is too large to count"));
        };
        if kh > ph || kw > pw {
            return Err(mismatch("the window is larger than the padded input"));
        }
        let Some(area) = kh.checked_mul(kw) else {
            return Err(mismatch("the window's KH·KW pixels are too many to count"));
        };
        if channels.checked_mul(area).is_none() {
            return Err(Error::InputShape {
                layer: LayerId::kind(layer),
                expected: format!(
                    "at most {} channels, so that the C·{kh}·{kw} values under a {kh}x{kw} window can be counted",
                    usize::MAX / area
                ),
                got: input,
            });
        }
        let (out_h, out_w) = ((ph - kh) / stride + 1, (pw - kw) / stride + 1);
        if out_h.checked_mul(out_w).is_none() {
            return Err(mismatch("the output's OH·OW positions are too many to count"));
        }
        Ok(Windows { channels, height, width, kh, kw, stride, padding, out_h, out_w })
    }

    /// The output shape for `channels` output planes.
    pub(crate) fn output(&self, channels: usize) -> Shape {
        Shape::Image { channels, height: self.out_h, width: self.out_w }
    }

    /// Output positions per image plane, `OH·OW` (counted in [`new`](Self::new)).
    pub(crate) fn positions(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Values per input image, `C·H·W` (counted in [`new`](Self::new)).
    pub(crate) fn input_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Values per window over all channels, `C·KH·KW`: the im2col matrix's columns (counted in
    /// [`new`](Self::new)).
    pub(crate) fn patch_len(&self) -> usize {
        self.channels * self.kh * self.kw
    }

    /// The input row (or column) that output row `o` reads at kernel offset `i`, if it is inside
    /// the image (not padding).
    #[inline]
    pub(crate) fn source(&self, o: usize, i: usize, size: usize) -> Option<usize> {
        (o * self.stride + i).checked_sub(self.padding).filter(|&v| v < size)
    }

    /// The output columns `ow` whose input column at kernel offset `j` is inside the image: a
    /// range, since the input column grows with `ow`.
    fn valid_columns(&self, j: usize) -> std::ops::Range<usize> {
        // iw = ow·S + j − P ∈ [0, W)  ⇔  ow ∈ [ceil((P − j) / S), floor((W − 1 + P − j) / S)]
        let first = self.padding.saturating_sub(j).div_ceil(self.stride);
        let end = match (self.width - 1 + self.padding).checked_sub(j) {
            Some(last) => (last / self.stride + 1).min(self.out_w),
            None => 0,
        };
        first.min(end)..end
    }

    /// Writes the im2col matrix of `x` (`n` images) into `col` (`OH·OW·n × C·KH·KW`,
    /// column-major; see the [module docs](self)); padding reads as zeros. Columns are filled in
    /// parts across the crate's threads.
    pub(crate) fn im2col<T: Real>(&self, x: &[T], n: usize, col: &mut [T]) {
        let rows = self.positions() * n;
        debug_assert!(x.len() == self.input_len() * n && col.len() == rows * self.patch_len());
        parts::for_each_part(col, rows, |offset, columns| {
            for (k, column) in columns.chunks_exact_mut(rows.max(1)).enumerate() {
                self.im2col_column(x, n, offset / rows.max(1) + k, column);
            }
        });
    }

    /// Column `k` of the im2col matrix: input channel `c`, window row `i`, column `j`, at every
    /// output position and sample.
    // Hot loop kept indexed: every offset comes from the geometry Windows::new checked (valid
    // columns and source rows stay inside the image), and `x` and `column` have the lengths
    // im2col's callers checked (asserted in debug builds).
    #[allow(clippy::indexing_slicing)]
    fn im2col_column<T: Real>(&self, x: &[T], n: usize, k: usize, column: &mut [T]) {
        let (c, i, j) = (k / (self.kh * self.kw), k / self.kw % self.kh, k % self.kw);
        let run = self.out_w * n; // one output row of positions, all samples
        let valid = self.valid_columns(j);
        for oh in 0..self.out_h {
            let dst = &mut column[oh * run..(oh + 1) * run];
            let Some(ih) = self.source(oh, i, self.height) else {
                dst.fill(T::zero());
                continue;
            };
            dst[..valid.start * n].fill(T::zero());
            dst[valid.end * n..].fill(T::zero());
            if valid.is_empty() {
                continue;
            }
            let iw0 = valid.start * self.stride + j - self.padding;
            let src = ((c * self.height + ih) * self.width + iw0) * n;
            if self.stride == 1 {
                let len = valid.len() * n;
                dst[valid.start * n..valid.end * n].copy_from_slice(&x[src..src + len]);
            } else {
                for (t, ow) in valid.clone().enumerate() {
                    let s = src + t * self.stride * n;
                    dst[ow * n..(ow + 1) * n].copy_from_slice(&x[s..s + n]);
                }
            }
        }
    }

    /// The adjoint of [`im2col`](Self::im2col): overwrites `dx` (`n` images) with the sum, over
    /// every place each pixel was copied to, of `dcol` there (padding's share is dropped).
    /// Channels are summed in parts across the crate's threads (a channel's pixels receive only
    /// its own columns).
    pub(crate) fn col2im<T: Real>(&self, dcol: &[T], n: usize, dx: &mut [T]) {
        let rows = self.positions() * n;
        debug_assert!(dx.len() == self.input_len() * n && dcol.len() == rows * self.patch_len());
        let plane = self.height * self.width * n;
        parts::for_each_part(dx, plane, |offset, channels| {
            for (c, dx) in channels.chunks_exact_mut(plane.max(1)).enumerate() {
                self.col2im_channel(dcol, n, offset / plane.max(1) + c, dx);
            }
        });
    }

    /// [`col2im`](Self::col2im) for channel `c`, whose pixels are `dx`.
    // Hot loop kept indexed: offsets come from the geometry Windows::new checked, and `dcol` and
    // `dx` have the lengths col2im's callers checked (asserted in debug builds).
    #[allow(clippy::indexing_slicing)]
    fn col2im_channel<T: Real>(&self, dcol: &[T], n: usize, c: usize, dx: &mut [T]) {
        let rows = self.positions() * n;
        let run = self.out_w * n;
        dx.fill(T::zero());
        for i in 0..self.kh {
            for j in 0..self.kw {
                let k = (c * self.kh + i) * self.kw + j;
                let column = &dcol[k * rows..(k + 1) * rows];
                let valid = self.valid_columns(j);
                if valid.is_empty() {
                    continue;
                }
                for oh in 0..self.out_h {
                    let Some(ih) = self.source(oh, i, self.height) else { continue };
                    let src = &column[oh * run..(oh + 1) * run];
                    let iw0 = valid.start * self.stride + j - self.padding;
                    let dst = (ih * self.width + iw0) * n;
                    if self.stride == 1 {
                        let len = valid.len() * n;
                        add_assign(&mut dx[dst..dst + len], &src[valid.start * n..valid.end * n]);
                    } else {
                        for (t, ow) in valid.clone().enumerate() {
                            let d = dst + t * self.stride * n;
                            add_assign(&mut dx[d..d + n], &src[ow * n..(ow + 1) * n]);
                        }
                    }
                }
            }
        }
    }
}

#[inline]
pub(crate) fn add_assign<T: Real>(a: &mut [T], b: &[T]) {
    for (a, &b) in a.iter_mut().zip(b) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(c: usize, h: usize, w: usize) -> Shape {
        Shape::Image { channels: c, height: h, width: w }
    }

    /// im2col against its definition, pixel by pixel, for strides, paddings and odd sizes; and
    /// col2im as its adjoint: ⟨im2col(x), d⟩ = ⟨x, col2im(d)⟩.
    #[test]
    fn im2col_matches_the_definition_and_col2im_is_its_adjoint() {
        let cases = [
            (1, 5, 5, 3, 3, 1, 0),
            (2, 5, 6, 3, 2, 2, 1),
            (3, 4, 4, 1, 1, 2, 0),
            (1, 3, 3, 5, 5, 1, 1),
            (2, 7, 5, 3, 3, 3, 2),
        ];
        for (c, h, w, kh, kw, s, p) in cases {
            let g = Windows::new("test", image(c, h, w), (kh, kw), s, p).unwrap();
            let n = 3;
            let x: Vec<f64> = (0..g.input_len() * n).map(|v| (v as f64 * 0.37).sin()).collect();
            let rows = g.positions() * n;
            let mut col = vec![f64::NAN; rows * g.patch_len()];
            g.im2col(&x, n, &mut col);
            for sample in 0..n {
                for oh in 0..g.out_h {
                    for ow in 0..g.out_w {
                        for ci in 0..c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let (ih, iw) =
                                        ((oh * s + i) as isize - p as isize, (ow * s + j) as isize - p as isize);
                                    let expected = if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                        0.0
                                    } else {
                                        x[((ci * h + ih as usize) * w + iw as usize) * n + sample]
                                    };
                                    let k = (ci * kh + i) * kw + j;
                                    let r = (oh * g.out_w + ow) * n + sample;
                                    assert_eq!(col[k * rows + r], expected);
                                }
                            }
                        }
                    }
                }
            }
            let d: Vec<f64> = (0..col.len()).map(|v| (v as f64 * 0.11).cos()).collect();
            let mut dx = vec![f64::NAN; x.len()];
            g.col2im(&d, n, &mut dx);
            let lhs: f64 = col.iter().zip(&d).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
        }
    }

    #[test]
    fn output_sizes_and_errors() {
        let g = Windows::new("conv2d", image(1, 28, 28), (5, 5), 1, 0).unwrap();
        assert_eq!((g.out_h, g.out_w), (24, 24));
        let g = Windows::new("conv2d", image(3, 7, 8), (3, 3), 2, 1).unwrap();
        assert_eq!((g.out_h, g.out_w), ((7 + 2 - 3) / 2 + 1, (8 + 2 - 3) / 2 + 1));
        assert!(matches!(Windows::new("c", image(1, 3, 3), (5, 5), 1, 0), Err(Error::WindowMismatch { .. })));
        assert!(matches!(Windows::new("c", image(1, 3, 3), (3, 3), 0, 0), Err(Error::InvalidConfig { .. })));
        assert!(matches!(Windows::new("c", image(1, 3, 3), (0, 3), 1, 0), Err(Error::InvalidConfig { .. })));
        assert!(matches!(Windows::new("c", image(0, 3, 3), (1, 1), 1, 0), Err(Error::InputShape { .. })));
        assert!(matches!(Windows::new("c", Shape::Flat(9), (1, 1), 1, 0), Err(Error::InputShape { .. })));
        assert!(matches!(Windows::new("c", image(1, 3, 3), (1, 1), 1, usize::MAX), Err(Error::WindowMismatch { .. })));
        // Counts that overflow: C·H·W, KH·KW, C·KH·KW, OH·OW.
        let huge = 1usize << 33;
        assert!(matches!(Windows::new("c", image(huge, huge, 1), (1, 1), 1, 0), Err(Error::InputShape { .. })));
        let err = Windows::new("c", image(1, 3, 3), (huge, huge), huge, huge - 1);
        assert!(matches!(err, Err(Error::WindowMismatch { why, .. }) if why.contains("KH·KW")), "{err:?}");
        let err = Windows::new("c", image(huge, 1, 1), (huge, 1), 1, huge / 2);
        assert!(matches!(err, Err(Error::InputShape { .. })), "{err:?}");
        let err = Windows::new("c", image(1, 3, 3), (3, 3), 1, 1 << 32);
        assert!(matches!(err, Err(Error::WindowMismatch { why, .. }) if why.contains("OH·OW")), "{err:?}");
    }
}
