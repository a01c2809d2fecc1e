//! Products with a short inner dimension and a tall, column-major left factor — a convolution's
//! `X·Wᵀ` (K = C·KH·KW + 1, 26 for SimpleConvNet's first layer, against 57 600 rows) and its
//! input gradient's `G·W` — by a kernel of the crate's own, in `f32` on CPUs with AVX2 and FMA.
//!
//! faer packs both factors into blocks sized for a long K, and at K = 26 that packing is most of
//! the work: it ran `57600×26 · 26×30` at 32–34 GFLOP/s where the `gemm` crate ran 55–58 (which
//! allocates two buffers per call). This kernel reads the left factor in place, 16 rows (two
//! 8-lane vectors) at a time, and keeps a 16 × 6 block of the output in twelve registers while
//! it runs over K, reading each row block once per six output columns from the L1 cache.
//!
//! Each output element is `Σ_p a[i, p]·b[p, j]`, summed from `p = 0` by fused multiply-adds,
//! whether its row falls in a vector block or in the scalar tail: the same bits however the rows
//! are split across threads.

use std::arch::x86_64::{
    __m256, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

/// The longest inner dimension the kernel takes: its advantage is not packing, which matters
/// less as K grows (and faer's blocks suit a long K).
pub(crate) const MAX_K: usize = 64;

/// The fewest rows worth the kernel (below, faer's dispatch is cheap next to the product).
pub(crate) const MIN_ROWS: usize = 256;

/// Rows per vector block (two 8-lane `f32` vectors).
const ROWS: usize = 16;

/// Rows per chunk: a multiple of [`ROWS`].
const CHUNK: usize = 256;

/// Output columns per block: 2 × 6 accumulators fill twelve of the sixteen vector registers,
/// leaving room for the two rows' vectors and the broadcast factor.
const COLS: usize = 6;

/// Whether this CPU can run the kernel (checked once per call; `is_x86_feature_detected!`
/// caches its answer).
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Column-major storage of one product: `c (m × n) = a (m × k) · b (k × n)`, `a` with unit row
/// stride, each matrix given by its first element's address and strides in elements.
#[derive(Clone, Copy)]
pub(crate) struct Operands {
    /// Rows, columns and the inner dimension.
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    /// `c`'s first element and column stride.
    pub(crate) c: *mut f32,
    pub(crate) c_cs: usize,
    /// `a`'s first element and column stride (its row stride is 1).
    pub(crate) a: *const f32,
    pub(crate) a_cs: usize,
    /// `b`'s first element and (row, column) strides.
    pub(crate) b: *const f32,
    pub(crate) b_rs: usize,
    pub(crate) b_cs: usize,
}

/// `c = a·b` for the operands `o`.
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`available`]). Every element the strides reach — `m × k` of
/// `a`, `k × n` of `b`, `m × n` of `c` — must be inside its allocation; `c`'s must be writable,
/// touched by nothing else during the call, and must not overlap `a`'s or `b`'s.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn product(o: Operands) {
    let blocks = o.m / ROWS * ROWS;
    // A chunk of rows of `a` (at most 256·64 values, 64 KiB) is read from memory once, and from
    // the caches for every further block of columns; each block of columns then writes runs of
    // 256 contiguous values per column (few long streams suit the prefetchers better than many
    // short ones).
    for chunk in (0..blocks).step_by(CHUNK) {
        let end = (chunk + CHUNK).min(blocks);
        let mut j = 0;
        while j < o.n {
            let cols = COLS.min(o.n - j);
            for i in (chunk..end).step_by(ROWS) {
                // SAFETY (every call): rows i..i + 16 and columns j..j + cols are inside the
                // operands, as the caller guarantees for all of them.
                unsafe {
                    match cols {
                        6 => block::<6>(o, i, j),
                        5 => block::<5>(o, i, j),
                        4 => block::<4>(o, i, j),
                        3 => block::<3>(o, i, j),
                        2 => block::<2>(o, i, j),
                        _ => block::<1>(o, i, j),
                    }
                }
            }
            j += cols;
        }
    }
    // SAFETY: rows blocks..m of every column are inside the operands.
    unsafe { tail_rows(o, blocks) };
}

/// The 16 × N block of the output at rows `i..i + 16`, columns `j..j + N`, in registers.
///
/// # Safety
/// As [`product`], for those rows and columns.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn block<const N: usize>(o: Operands, i: usize, j: usize) {
    let mut acc: [[__m256; 2]; N] = [[_mm256_setzero_ps(); 2]; N];
    for p in 0..o.k {
        // SAFETY: rows i..i + 16 of column p of `a`, and b[p, j..j + N], are inside the
        // operands (the caller's contract).
        unsafe {
            let column = o.a.add(p * o.a_cs + i);
            let (low, high) = (_mm256_loadu_ps(column), _mm256_loadu_ps(column.add(8)));
            for (q, acc) in acc.iter_mut().enumerate() {
                let factor = _mm256_broadcast_ss(&*o.b.add(p * o.b_rs + (j + q) * o.b_cs));
                acc[0] = _mm256_fmadd_ps(low, factor, acc[0]);
                acc[1] = _mm256_fmadd_ps(high, factor, acc[1]);
            }
        }
    }
    for (q, acc) in acc.iter().enumerate() {
        // SAFETY: rows i..i + 16 of column j + q of `c` are inside it and ours alone.
        unsafe {
            let out = o.c.add((j + q) * o.c_cs + i);
            _mm256_storeu_ps(out, acc[0]);
            _mm256_storeu_ps(out.add(8), acc[1]);
        }
    }
}

/// Rows `from..m` of every output column, one element at a time, summed exactly as a vector
/// lane sums (fused multiply-adds from `p = 0`).
///
/// # Safety
/// As [`product`], for those rows.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn tail_rows(o: Operands, from: usize) {
    for q in 0..o.n {
        for i in from..o.m {
            let mut sum = 0.0f32;
            for p in 0..o.k {
                // SAFETY: a[i, p] and b[p, q] are inside the operands (the caller's contract).
                unsafe { sum = (*o.a.add(p * o.a_cs + i)).mul_add(*o.b.add(p * o.b_rs + q * o.b_cs), sum) };
            }
            // SAFETY: c[i, q] is inside `c` and ours alone.
            unsafe { *o.c.add(q * o.c_cs + i) = sum };
        }
    }
}
