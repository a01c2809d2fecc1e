//! Products with a short inner dimension and a tall, column-major left factor — a convolution's
//! `X·Wᵀ` (K = C·KH·KW + 1, 26 for SimpleConvNet's first layer, against 57 600 rows) and its
//! input gradient's `G·W` — and products of 16 or 32 rows (a small batch's forward products), by
//! a kernel of the crate's own, in `f32` on CPUs with AVX2 and FMA.
//!
//! faer packs both factors into blocks sized for a long K, and at K = 26 that packing is most of
//! the work: it ran `57600×26 · 26×30` at 32–34 GFLOP/s where the `gemm` crate ran 55–58 (which
//! allocates two buffers per call). This kernel reads the left factor in place, 16 rows (two
//! 8-lane vectors) at a time, and keeps a 16 × 6 block of the output in twelve registers while
//! it runs over K, reading each row block once per six output columns from the L1 cache.
//!
//! A transposed left factor (unit column stride: each row's K values contiguous, as a weight
//! gradient's `Xᵀ` or `Hᵀ` is when the batch is stored sample by sample) is packed 16 rows at a
//! time into a column-major panel by 8 × 8 transposes in registers, at most 16·64 values, and
//! the panel is then read as an `a` stored so.
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
    __m256, _mm256_add_ps, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mul_ps,
    _mm256_permute2f128_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_sub_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};
use std::mem::MaybeUninit;

/// The longest inner dimension the kernel takes for more than [`FEW_ROWS`] rows, or with a
/// packed left factor (the panel's size): its advantage is not packing, which matters less as K
/// grows (and faer's blocks suit a long K).
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

/// Whether the kernel is worth its dispatch for an `m × k · k × n` product, whose left factor
/// is `packed` (transposed, see [`Operands::a_rs`]) or read in place. Packed, it takes whole
/// 16-row blocks with 2 ≤ K ≤ 64 (the panel's size): µs of faer against the kernel, one thread,
/// interleaved — 32×64·64×128 7.1 against 5.6 (the digits MLP's first forward product, its batch
/// stored sample by sample), 128×32·32×10 1.6 against 1.3 (its second weight gradient),
/// 57600×26·26×30 2065 against 1600, 2048×64·64×64 208 against 197; even at 1024×16·16×64 (29.4
/// against 30.7).
pub(crate) fn worth(m: usize, k: usize, packed: bool) -> bool {
    let whole_blocks = m >= MIN_BLOCK_ROWS && m.is_multiple_of(ROWS) && k >= 2;
    if packed {
        whole_blocks && k <= MAX_K
    } else if m <= FEW_ROWS {
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
/// or column stride, each matrix given by its first element's address and strides in elements.
#[derive(Clone, Copy)]
pub(crate) struct Operands {
    /// Rows, columns and the inner dimension.
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    /// `c`'s first element and column stride.
    pub(crate) c: *mut f32,
    pub(crate) c_cs: usize,
    /// `a`'s first element and (row, column) strides: a row stride of 1 is read in place; else
    /// (a transposed `a`, at most [`MAX_K`] columns) the column stride must be 1, and each 16
    /// rows are packed first.
    pub(crate) a: *const f32,
    pub(crate) a_rs: usize,
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
    if o.a_rs == 1 {
        // A chunk of rows of `a` (at most 256·64 values, 64 KiB) is read from memory once, and
        // from the caches for every further block of columns; each block of columns then writes
        // runs of 256 contiguous values per column (few long streams suit the prefetchers better
        // than many short ones).
        for chunk in (0..blocks).step_by(CHUNK) {
            let end = (chunk + CHUNK).min(blocks);
            for j in (0..o.n).step_by(COLS) {
                for i in (chunk..end).step_by(ROWS) {
                    // SAFETY: rows i..i + 16 of `a` start at `a + i` (unit row stride), and they
                    // and columns j..j + 6 (or to n) are inside the operands.
                    check = _mm256_add_ps(check, unsafe { block_at(o, (o.a.add(i), o.a_cs), i, j) });
                }
            }
        }
    } else {
        // Each 16 rows of a transposed `a` copied once into a column-major panel (4 KiB at
        // most), then read for every block of columns. The panel's writes are unchecked: a
        // caller breaking the contract must stop here, not write past it.
        assert!(o.k <= MAX_K && o.a_cs == 1, "small_k: a packed `a` needs K ≤ {MAX_K} and unit column stride");
        // Left uninitialized: `pack` writes its first 16·k values, all the blocks read (zeroing
        // all 4 KiB on every call was 2.7% of a digits-mlp run's instructions, in `memset`).
        let mut panel = MaybeUninit::<[f32; ROWS * MAX_K]>::uninit();
        let panel = panel.as_mut_ptr().cast::<f32>();
        for i in (0..blocks).step_by(ROWS) {
            // SAFETY: rows i..i + 16 are inside `a`, whose column stride is 1 and k ≤ MAX_K
            // (the caller's contract); the panel holds 16·MAX_K values.
            unsafe { pack(o, i, panel) };
            for j in (0..o.n).step_by(COLS) {
                // SAFETY: the panel holds rows i..i + 16 of `a` with column stride 16, all 16·k
                // values written by `pack`; columns j..j + 6 (or to n) are inside the operands.
                check = _mm256_add_ps(check, unsafe { block_at(o, (panel.cast_const(), ROWS), i, j) });
            }
        }
    }
    // SAFETY: rows blocks..m of every column are inside the operands.
    let tail_finite = unsafe { tail_rows(o, blocks) };
    tail_finite && all_zero(check)
}

/// Copies rows `i..i + 16` of `a` — each row's `k` values contiguous (column stride 1) — into
/// `panel`, column-major with column stride 16: eight columns at a time as 8 × 8 transposes in
/// registers, the last `k mod 8` one by one. Writes every one of the panel's first `16·k`
/// values.
///
/// # Safety
/// As [`product`], for those rows; `a`'s column stride 1, `k` at most [`MAX_K`], and `panel`
/// valid for writes of `16·MAX_K` values.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn pack(o: Operands, i: usize, panel: *mut f32) {
    let whole = o.k / 8 * 8;
    for half in [0, 8] {
        // SAFETY: rows i + half..i + half + 8 of `a` are inside it, each with k contiguous values.
        let rows: [*const f32; 8] = std::array::from_fn(|r| unsafe { o.a.add((i + half + r) * o.a_rs) });
        for p in (0..whole).step_by(8) {
            // SAFETY: a[i + half + r, p..p + 8] is inside `a` (p + 8 ≤ k).
            let columns = transpose8(rows.map(|row| unsafe { _mm256_loadu_ps(row.add(p)) }));
            for (c, column) in columns.into_iter().enumerate() {
                let at = (p + c) * ROWS + half;
                // SAFETY: at + 8 ≤ k·16 ≤ the panel's length.
                unsafe { _mm256_storeu_ps(panel.add(at), column) };
            }
        }
        for p in whole..o.k {
            for (r, row) in rows.iter().enumerate() {
                // SAFETY: a[i + half + r, p] is inside `a` (p < k), and p·16 + half + r < k·16.
                unsafe { panel.add(p * ROWS + half + r).write(*row.add(p)) };
            }
        }
    }
}

/// The transpose of the 8 × 8 block whose rows are `r`: its columns, as rows.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transpose8([r0, r1, r2, r3, r4, r5, r6, r7]: [__m256; 8]) -> [__m256; 8] {
    // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves exchanged.
    let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
    let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
    let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
    let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
    let (u0, u1) = (_mm256_shuffle_ps::<0x44>(t0, t2), _mm256_shuffle_ps::<0xEE>(t0, t2));
    let (u2, u3) = (_mm256_shuffle_ps::<0x44>(t1, t3), _mm256_shuffle_ps::<0xEE>(t1, t3));
    let (u4, u5) = (_mm256_shuffle_ps::<0x44>(t4, t6), _mm256_shuffle_ps::<0xEE>(t4, t6));
    let (u6, u7) = (_mm256_shuffle_ps::<0x44>(t5, t7), _mm256_shuffle_ps::<0xEE>(t5, t7));
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// The block of the output at rows `i..i + 16` and columns `j..j + 6` (fewer at the last
/// columns), from those rows of `a` given as their first element and column stride.
///
/// # Safety
/// As [`block`].
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn block_at(o: Operands, a: (*const f32, usize), i: usize, j: usize) -> __m256 {
    // SAFETY: the caller's contract.
    unsafe {
        match COLS.min(o.n - j) {
            6 => block::<6>(o, a, i, j),
            5 => block::<5>(o, a, i, j),
            4 => block::<4>(o, a, i, j),
            3 => block::<3>(o, a, i, j),
            2 => block::<2>(o, a, i, j),
            _ => block::<1>(o, a, i, j),
        }
    }
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

/// The 16 × N block of the output at rows `i..i + 16`, columns `j..j + N`, in registers, from
/// those rows of `a` (their first element and column stride; 16 contiguous values a column);
/// returns the sum of its new values times 0 for a descent (0 while they are finite), 0 for a
/// product.
///
/// # Safety
/// As [`product`], for those rows and columns; `a` must address 16 contiguous values in each of
/// `k` columns.
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn block<const N: usize>(o: Operands, (a, a_cs): (*const f32, usize), i: usize, j: usize) -> __m256 {
    let mut acc: [[__m256; 2]; N] = [[_mm256_setzero_ps(); 2]; N];
    for p in 0..o.k {
        // SAFETY: the 16 rows of column p of `a`, and b[p, j..j + N], are inside the operands
        // (the caller's contract).
        unsafe {
            let column = a.add(p * a_cs);
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
                unsafe { sum = (*o.a.add(p * o.a_cs + i * o.a_rs)).mul_add(*o.b.add(p * o.b_rs + q * o.b_cs), sum) };
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
