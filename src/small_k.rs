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
//!
//! The kernel can also finish each block with a step of gradient descent ([`Descent`]): when the
//! product is a weight gradient `g`, it writes `w − η·g` (or `w − η·(g + λ·w)`) instead of `g`,
//! while the block is still in registers — the update's pass over the weights and the gradient
//! (most of a batch-1 step's time) folded into the product's. The values are those of
//! [`SgdRule`](crate::SgdRule)'s own pass over the stored gradient, bit for bit: the same `g`,
//! then a product and a difference, rounded each.

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps,
    _mm256_setzero_ps, _mm256_storeu_ps, _mm256_sub_ps,
};

/// The longest inner dimension the kernel takes for more than [`FEW_ROWS`] rows: its advantage
/// is not packing, which matters less as K grows (and faer's blocks suit a long K).
const MAX_K: usize = 64;

/// From this many rows the kernel beats faer at any row count (below, faer's dispatch is cheap
/// next to the product, or the kernel's scalar tail rows cost more than it saves).
const MIN_ROWS: usize = 256;

/// Up to this many rows (in whole 16-row blocks) the kernel beats faer at any inner dimension
/// up to [`FEW_ROWS_MAX_VALUES`] values of `a`: faer's blocks and packing are sized for many
/// rows. One thread, `f32`, µs of faer against the kernel's, the two interleaved: the digits
/// MLP's batch-32 forward products 32×64·64×128 7.0 against 5.5 and 32×128·128×10 1.5 against
/// 1.1, 32×784·784×128 82.5 against 67.6, 32×4096·4096×64 219 against 206, 16×64·64×128 3.2
/// against 2.8; at 48 and 64 rows and K ≥ 128 they are even (64×784·784×128 138 against 144).
const FEW_ROWS: usize = 32;

/// The most values of `a` (`m·k`) the kernel takes at [`FEW_ROWS`] rows or fewer: 512 KiB of
/// `f32`, the largest measured (above it, `a` would be read from memory once per six output
/// columns).
const FEW_ROWS_MAX_VALUES: usize = 1 << 17;

/// From this many rows the kernel beats faer when the rows fill whole 16-row blocks (no scalar
/// tail) and K ≥ 2: one thread, `f32`, GFLOP/s of faer against the kernel's — 64×32·32×128
/// (the digits MLP's first weight gradient) 84 against 89, 112×16·16×64 69 against 81,
/// 64×2·2×128 18 against 33, 16×2·2×128 11.5 against 22.8, 32×64·64×1 10.8 against 19.0; but
/// 200×32·32×100 (8 tail rows) 85 against 49, and at K = 1 64×1·1×128 took 0.58 µs against
/// 0.74.
const MIN_BLOCK_ROWS: usize = ROWS;

/// Whether the kernel is worth its dispatch for an `m × k · k × n` product.
pub(crate) fn worth(m: usize, k: usize) -> bool {
    let whole_blocks = m >= MIN_BLOCK_ROWS && m.is_multiple_of(ROWS) && k >= 2;
    if m <= FEW_ROWS {
        whole_blocks && m * k <= FEW_ROWS_MAX_VALUES
    } else {
        k <= MAX_K && (m >= MIN_ROWS || whole_blocks)
    }
}

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
    /// What is written: the product, or a step of gradient descent from it.
    pub(crate) out: Output,
}

/// What the kernel writes into `c`.
#[derive(Clone, Copy)]
pub(crate) enum Output {
    /// The product `a·b`.
    Product,
    /// A step of gradient descent with the product as the gradient.
    Descent(Descent),
}

/// A step of gradient descent `c = w − η·g` (`λ = 0`) or `c = w − η·(g + λ·w)`, where `g = a·b`
/// and `w` is laid out as `c` (the same column stride). `w` may be `c` itself (a step in place):
/// each element of `w` is read before its element of `c` is written, and by the same block.
#[derive(Clone, Copy)]
pub(crate) struct Descent {
    /// `w`'s first element (of this part, as `c`'s).
    pub(crate) w: *const f32,
    /// The learning rate `η`.
    pub(crate) lr: f32,
    /// The weight decay `λ` (0 for none).
    pub(crate) lambda: f32,
}

impl Descent {
    /// One element's new value, as [`SgdRule`](crate::SgdRule) computes it.
    fn scalar(self, w: f32, g: f32) -> f32 {
        crate::descent::step(w, g, self.lr, self.lambda)
    }

    /// [`scalar`](Descent::scalar) on eight lanes, each rounded as the scalar is (in
    /// `descent::step`'s order).
    #[target_feature(enable = "avx2,fma")]
    #[allow(unsafe_code)]
    #[inline]
    unsafe fn lanes(self, w: __m256, g: __m256) -> __m256 {
        let lr = _mm256_set1_ps(self.lr);
        if self.lambda == 0.0 {
            _mm256_sub_ps(w, _mm256_mul_ps(lr, g))
        } else {
            let decayed = _mm256_add_ps(g, _mm256_mul_ps(_mm256_set1_ps(self.lambda), w));
            _mm256_sub_ps(w, _mm256_mul_ps(lr, decayed))
        }
    }
}

/// `c = a·b` for the operands `o`, or the step of [`Descent`] from it; returns whether every
/// value written is finite (always `true` for a product, which is not checked).
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`available`]). Every element the strides reach — `m × k` of
/// `a`, `k × n` of `b`, `m × n` of `c` (and of a descent's `w`) — must be inside its
/// allocation; `c`'s must be writable, touched by nothing else during the call, and must not
/// overlap `a`'s or `b`'s, nor a descent's `w` unless `w` is `c` (the same elements).
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn product(o: Operands) -> bool {
    let blocks = o.m / ROWS * ROWS;
    // Σ new·0 over the values written: 0 while they are finite, NaN from the first that is not.
    let mut check = _mm256_setzero_ps();
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
                let block_check = unsafe {
                    match cols {
                        6 => block::<6>(o, i, j),
                        5 => block::<5>(o, i, j),
                        4 => block::<4>(o, i, j),
                        3 => block::<3>(o, i, j),
                        2 => block::<2>(o, i, j),
                        _ => block::<1>(o, i, j),
                    }
                };
                check = _mm256_add_ps(check, block_check);
            }
            j += cols;
        }
    }
    // SAFETY: rows blocks..m of every column are inside the operands.
    let tail_finite = unsafe { tail_rows(o, blocks) };
    tail_finite && all_zero(check)
}

/// Whether every lane of `v` is ±0 (not NaN).
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn all_zero(v: __m256) -> bool {
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds eight f32.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
    lanes.iter().all(|&x| x == 0.0)
}

/// The 16 × N block of the output at rows `i..i + 16`, columns `j..j + N`, in registers; returns
/// the sum of its new values times 0 for a descent (0 while they are finite), 0 for a product.
///
/// # Safety
/// As [`product`], for those rows and columns.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn block<const N: usize>(o: Operands, i: usize, j: usize) -> __m256 {
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
    let mut check = _mm256_setzero_ps();
    for (q, acc) in acc.iter().enumerate() {
        let at = (j + q) * o.c_cs + i;
        // SAFETY: rows i..i + 16 of column j + q of `c` are inside it and ours alone, and those
        // of a descent's `w` (laid out as `c`, or `c` itself) are inside `w`, read before the
        // same elements of `c` are written.
        unsafe {
            let (low, high) = match o.out {
                Output::Product => (acc[0], acc[1]),
                Output::Descent(d) => {
                    let w = d.w.add(at);
                    let low = d.lanes(_mm256_loadu_ps(w), acc[0]);
                    let high = d.lanes(_mm256_loadu_ps(w.add(8)), acc[1]);
                    let zero = _mm256_setzero_ps();
                    check = _mm256_fmadd_ps(high, zero, _mm256_fmadd_ps(low, zero, check));
                    (low, high)
                }
            };
            let out = o.c.add(at);
            _mm256_storeu_ps(out, low);
            _mm256_storeu_ps(out.add(8), high);
        }
    }
    check
}

/// Rows `from..m` of every output column, one element at a time, summed exactly as a vector
/// lane sums (fused multiply-adds from `p = 0`); returns whether every value written is finite.
///
/// # Safety
/// As [`product`], for those rows.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn tail_rows(o: Operands, from: usize) -> bool {
    let mut finite = true;
    for q in 0..o.n {
        for i in from..o.m {
            let mut sum = 0.0f32;
            for p in 0..o.k {
                // SAFETY: a[i, p] and b[p, q] are inside the operands (the caller's contract).
                unsafe { sum = (*o.a.add(p * o.a_cs + i)).mul_add(*o.b.add(p * o.b_rs + q * o.b_cs), sum) };
            }
            let at = q * o.c_cs + i;
            let value = match o.out {
                Output::Product => sum,
                // SAFETY: w[i, q] is inside `w` (laid out as `c`).
                Output::Descent(d) => d.scalar(unsafe { *d.w.add(at) }, sum),
            };
            finite &= value.is_finite();
            // SAFETY: c[i, q] is inside `c` and ours alone.
            unsafe { *o.c.add(at) = value };
        }
    }
    finite
}
