//! Matrix products for the layers: `c = op(a)·op(b)`, where `op` is "as stored" or "transposed".
//!
//! The products are computed by [faer](https://crates.io/crates/faer) on the matrices'
//! column-major storage. Why faer:
//! - a transposed factor is only a pair of strides to it, so `xᵀ·g` and `g·Wᵀ` need no copy —
//!   nalgebra's `tr_mul` family never reaches its fast kernel, and its `gemm` on a strided view
//!   reads out of bounds below its small-size threshold;
//! - it packs into a workspace kept per thread, so a training step allocates nothing (the `gemm`
//!   crate, used before, allocated two buffers per product);
//! - it is as fast as the `gemm` crate at the shapes small networks train at, faster at batch 1.
//!   (CHANGELOG.md has the measurements.)
//!
//! Tiny products (the course's XOR network) are a plain loop instead: below [`PLAIN_LOOP_MAX`]
//! multiply-adds it costs less than faer's dispatch. Tall `f32` products with a short inner
//! dimension (a convolution's forward product, K = 26 for SimpleConvNet) run on the crate's own
//! kernel ([`crate::small_k`]) where the CPU has AVX2 and FMA: faer's packing for a long K was
//! most of their work.
//!
//! Large products split across the crate's threads ([`crate::threads`]) by blocks of output
//! columns or rows, one single-threaded product per part. faer sums the inner dimension in the
//! same blocks whatever the output's size, so every part is computed exactly as in the whole
//! product: the same inputs give bit-identical results on any number of threads.

use crate::Real;
use nalgebra::DMatrix;
use std::any::TypeId;

/// How a factor of a product is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// As stored.
    Plain,
    /// Transposed: an `r × c` matrix is read as `c × r`, without a copy.
    Transposed,
}

impl Op {
    /// The other op: how `op(m)ᵀ` reads `m`.
    pub(crate) fn transposed(self) -> Op {
        match self {
            Op::Plain => Op::Transposed,
            Op::Transposed => Op::Plain,
        }
    }

    /// The shape of `op(m)` for an `rows × cols` matrix `m`.
    pub(crate) fn shape(self, (rows, cols): (usize, usize)) -> (usize, usize) {
        match self {
            Op::Plain => (rows, cols),
            Op::Transposed => (cols, rows),
        }
    }

    /// The (row, column) strides of `op(m)` in the column-major storage of an `rows × cols` `m`.
    fn strides(self, (rows, _): (usize, usize)) -> (usize, usize) {
        match self {
            Op::Plain => (1, rows),
            Op::Transposed => (rows, 1),
        }
    }
}

/// A column-major `rows × cols` matrix over a borrowed slice: how a layer multiplies storage it
/// reads with another shape (a convolution's `batch × (F·OH·OW)` output is, element for element,
/// the `(OH·OW·batch) × F` product of its im2col matrix and its filters).
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
}

impl<'a, T> View<'a, T> {
    /// `data` read as a column-major `rows × cols` matrix.
    ///
    /// # Panics
    /// Unless `data` holds exactly `rows·cols` elements (a bug in the crate, never user input).
    pub(crate) fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(Some(data.len()), rows.checked_mul(cols), "matmul view: {} elements as {rows}x{cols}", data.len());
        View { data, rows, cols }
    }

    fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

impl<'a, T: nalgebra::Scalar> From<&'a DMatrix<T>> for View<'a, T> {
    fn from(m: &'a DMatrix<T>) -> Self {
        View { data: m.as_slice(), rows: m.nrows(), cols: m.ncols() }
    }
}

/// A column-major `rows × cols` matrix over a borrowed mutable slice: a product's destination.
#[derive(Debug)]
pub(crate) struct ViewMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
}

impl<'a, T> ViewMut<'a, T> {
    /// `data` written as a column-major `rows × cols` matrix.
    ///
    /// # Panics
    /// Unless `data` holds exactly `rows·cols` elements (a bug in the crate, never user input).
    pub(crate) fn new(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert_eq!(Some(data.len()), rows.checked_mul(cols), "matmul view: {} elements as {rows}x{cols}", data.len());
        ViewMut { data, rows, cols }
    }
}

/// Writes `op_a(a)·op_b(b)` into `c`, which must already have the product's shape.
///
/// # Panics
/// If the shapes do not agree: callers check their inputs first, so a panic here is a bug in
/// the crate, never a user's mistake.
pub(crate) fn matmul<T: Real>(c: &mut DMatrix<T>, a: &DMatrix<T>, op_a: Op, b: &DMatrix<T>, op_b: Op) {
    let (rows, cols) = c.shape();
    matmul_views(ViewMut::new(c.as_mut_slice(), rows, cols), a.into(), op_a, b.into(), op_b);
}

/// The layers' product `c = op_a(a)·op_b(b)` on column-major slices — faer, or the small-K
/// kernel, split across the crate's threads as for a layer — where `op` transposes when asked:
/// `c` is `m × n`, and `a` holds `m × k` (`k × m` when transposed) elements, `b` `k × n` (`n × k`).
/// For the crate's benches, whose floors time the engine the layers use; not part of the API.
///
/// # Panics
/// If the slices' lengths do not fit those shapes.
#[doc(hidden)]
pub fn bench_product<T: Real>(
    c: &mut [T],
    (m, n): (usize, usize),
    a: &[T],
    transpose_a: bool,
    b: &[T],
    transpose_b: bool,
) {
    let k = a.len().checked_div(m).unwrap_or(0);
    let op = |transposed: bool| if transposed { Op::Transposed } else { Op::Plain };
    let (op_a, op_b) = (op(transpose_a), op(transpose_b));
    // A factor's stored shape is its operand's shape through the same op (a transpose is its
    // own inverse).
    let ((a_rows, a_cols), (b_rows, b_cols)) = (op_a.shape((m, k)), op_b.shape((k, n)));
    matmul_views(ViewMut::new(c, m, n), View::new(a, a_rows, a_cols), op_a, View::new(b, b_rows, b_cols), op_b);
}

/// [`matmul`] on storage viewed as matrices: `c = op_a(a)·op_b(b)`.
///
/// # Panics
/// If the shapes do not agree (a bug in the crate, never a user's mistake).
// The call of the `unsafe` product below.
#[allow(unsafe_code)]
pub(crate) fn matmul_views<T: Real>(c: ViewMut<'_, T>, a: View<'_, T>, op_a: Op, b: View<'_, T>, op_b: Op) {
    let (m, k) = op_a.shape(a.dims());
    let (k_b, n) = op_b.shape(b.dims());
    assert!(k == k_b && (c.rows, c.cols) == (m, n), "matmul: ({m}×{k})·({k_b}×{n}) into {}x{}", c.rows, c.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.data.fill(T::zero());
        return;
    }
    let faer_type = TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
    if m * n * k <= PLAIN_LOOP_MAX || !faer_type {
        plain_product(c, a, op_a, b, op_b);
        return;
    }
    let (a_rs, a_cs) = op_a.strides(a.dims());
    let (b_rs, b_cs) = op_b.strides(b.dims());
    let whole = Product {
        m,
        n,
        k,
        c: c.data.as_mut_ptr() as usize,
        a: a.data.as_ptr() as usize,
        b: b.data.as_ptr() as usize,
        elem_bytes: std::mem::size_of::<T>(),
    };
    let strides = Strides { c_cs: m, a_rs, a_cs, b_rs, b_cs };
    let small_k = kernel_takes::<T>((m, n, k), (a_rs, a_cs));
    in_parts(whole, strides, &|p| {
        #[cfg(target_arch = "x86_64")]
        if small_k {
            // SAFETY: `kernel_takes` checked that `T` is `f32`, that `a`'s row or column stride
            // is 1 (and its K fits the kernel's panel when it is the column stride) and that the
            // CPU has AVX2 and FMA; the part's pointers and strides address its elements as argued
            // for faer's call below.
            unsafe { crate::small_k::product(small_k_operands(p, strides, crate::small_k::Output::Product)) };
            return;
        }
        // SAFETY: `T` is `f32` or `f64` (`faer_type`), the type the call names. Each pointer
        // spans its matrix's contiguous column-major storage (the views hold exactly rows·cols
        // elements), and the strides address exactly the `m × k`, `k × n` and `m × n` elements
        // within it (shapes checked by the assertion above); a part addresses a block of whole
        // columns (or rows) of `c` and the matching columns of `op_b(b)` (rows of `op_a(a)`),
        // disjoint from every other part's. `c` is borrowed mutably for the whole product, so it
        // cannot alias `a` or `b`.
        unsafe {
            if TypeId::of::<T>() == TypeId::of::<f32>() {
                product_by_faer::<f32>(p, strides);
            } else {
                product_by_faer::<f64>(p, strides);
            }
        }
    });
}

/// A step of gradient descent whose gradient is a product, where the small-K kernel computes
/// that product ([`crate::small_k`]): `c = w − η·g` (`lambda` = 0) or `c = w − η·(g + λ·w)`,
/// with `g = op_a(a)·op_b(b)`, every value the bits [`SgdRule`](crate::SgdRule) computes from the
/// stored gradient — one pass where the product and the update made two (the weight-gradient
/// product of a batch-1 step, and of small batches of many inputs).
///
/// Returns `Some(finite)` when it did — whether every new value is finite — and `None` (`c`
/// untouched) when the kernel does not take this product ([`descent_folds`]): the caller then
/// computes the gradient as usual.
///
/// # Panics
/// If the shapes do not agree, `w`'s included (a bug in the crate, never a user's mistake).
pub(crate) fn descend_product<T: Real>(
    c: &mut DMatrix<T>,
    a: (&DMatrix<T>, Op),
    b: (&DMatrix<T>, Op),
    w: &DMatrix<T>,
    lr: T,
    lambda: T,
) -> Option<bool> {
    assert_eq!(c.shape(), w.shape(), "descend_product: w is not shaped as c");
    // `c` is borrowed mutably: it overlaps none of `a`, `b`, `w`.
    descend(c.shape(), c.as_mut_ptr() as usize, w.as_ptr() as usize, a, b, (lr, lambda))
}

/// [`descend_product`] written into `w` itself: `w ← w − η·g` (or `w − η·(g + λ·w)`), the same
/// bits. Each value is overwritten whatever it becomes, so the caller must know beforehand that
/// every new value is finite ([`descent_bound`]); the result says whether they are.
pub(crate) fn descend_in_place<T: Real>(
    w: &mut DMatrix<T>,
    a: (&DMatrix<T>, Op),
    b: (&DMatrix<T>, Op),
    lr: T,
    lambda: T,
) -> Option<bool> {
    let at = w.as_mut_ptr() as usize;
    // `w` is borrowed mutably: it overlaps neither `a` nor `b`.
    descend(w.shape(), at, at, a, b, (lr, lambda))
}

/// Whether [`descend_product`] and [`descend_in_place`] take the product `op_a(a)·b`.
pub(crate) fn descent_folds<T: Real>((a, op_a): (&DMatrix<T>, Op), b: &DMatrix<T>) -> bool {
    let (m, k) = op_a.shape(a.shape());
    kernel_takes::<T>((m, b.ncols(), k), op_a.strides(a.shape()))
}

/// Whether the small-K kernel computes the product `m × k · k × n`, the left factor with (row,
/// column) strides `a_strides` — for [`matmul_views`] and for a descent alike, so that a folded
/// step is taken exactly where the stored gradient would come from the kernel: not an empty
/// product, nor one for the plain loop, whose sums round each product before adding it where the
/// kernel fuses the two.
fn kernel_takes<T: Real>((m, n, k): (usize, usize, usize), a_strides: (usize, usize)) -> bool {
    m > 0 && n > 0 && k > 0 && m * n * k > PLAIN_LOOP_MAX && small_k_kernel::<T>(m, k, a_strides)
}

/// A bound on every `|new value|` after a step of descent `w − η·(g + λ·w)` (`λ` = 0:
/// `w − η·g`), with `g = op(a)·b` summed over the `k` rows of `b`, when every `|w| ≤ w_max`:
/// `(w_max + η·(k·A·B + λ·w_max))·(1 + (k + 4)·2⁻²²)`, where `A` and `B` are the largest
/// magnitudes in `a` and `b` — or `None` unless it is below the type's largest value (a NaN or an
/// infinity in `a` or `b` gives `None`). With `Some`, the step certainly leaves every value
/// finite.
///
/// Why: each computed term of `g` is within `A·B·(1 + u)` (`u` the unit roundoff, 2⁻²⁴ in
/// `f32`, the kernel's type), each of the `k` rounded sums adds at most a factor `1 + u`, and the
/// step's three rounded operations three more: at most `(1 + u)^(k + 4) ≤ e^((k + 4)·u)`, below
/// `1 + 2·(k + 4)·u` while `(k + 4)·u ≤ 1`, over the exact bound (a `k` past 2²⁴ − 4 gives no
/// bound). So no intermediate value and no new value exceeds the bound, and with finite
/// operands none is NaN. The bound is in `f64`, where its own rounding (about 10⁻¹⁶) is far
/// inside the margin.
pub(crate) fn descent_bound<T: Real>(w_max: f64, (a, b): (&DMatrix<T>, &DMatrix<T>), lr: T, lambda: T) -> Option<f64> {
    let k = b.nrows();
    // Infinite for a NaN or an infinity: the bound is then not below the largest value.
    let largest = |m: &DMatrix<T>| crate::check::largest_magnitude(m.as_slice()).to_f64();
    let (lr, lambda) = (lr.to_f64(), lambda.to_f64());
    let rounding = (k + 4) as f64 * 2f64.powi(-24);
    if rounding > 1.0 {
        return None;
    }
    let bound = (w_max + lr * (k as f64 * largest(a) * largest(b) + lambda * w_max)) * (1.0 + 2.0 * rounding);
    T::max_value().filter(|max| bound < max.to_f64()).map(|_| bound)
}

/// [`descend_product`] with `c` and `w` given by their first elements' addresses (`c` may be `w`).
// The call of the `unsafe` kernel below.
#[allow(unsafe_code)]
fn descend<T: Real>(
    (rows, cols): (usize, usize),
    c: usize,
    w: usize,
    (a, op_a): (&DMatrix<T>, Op),
    (b, op_b): (&DMatrix<T>, Op),
    (lr, lambda): (T, T),
) -> Option<bool> {
    let (m, k) = op_a.shape(a.shape());
    let (k_b, n) = op_b.shape(b.shape());
    assert!(k == k_b && (rows, cols) == (m, n), "descend: ({m}×{k})·({k_b}×{n}) into {rows}x{cols}");
    let (a_rs, a_cs) = op_a.strides(a.shape());
    let (b_rs, b_cs) = op_b.strides(b.shape());
    if !kernel_takes::<T>((m, n, k), (a_rs, a_cs)) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use crate::small_k::{Descent, Output};
        use std::sync::atomic::{AtomicBool, Ordering};
        let whole = Product {
            m,
            n,
            k,
            c,
            a: a.as_ptr() as usize,
            b: b.as_ptr() as usize,
            elem_bytes: std::mem::size_of::<T>(),
        };
        let strides = Strides { c_cs: m, a_rs, a_cs, b_rs, b_cs };
        let finite = AtomicBool::new(true);
        // `T` is `f32` (`kernel_takes`): the casts are exact.
        let (lr, lambda) = (lr.to_f64() as f32, lambda.to_f64() as f32);
        in_parts(whole, strides, &|p| {
            // `w` is laid out as `c`: this part's block of it starts at the same offset.
            let w = (w + (p.c - whole.c)) as *const f32;
            let out = Output::Descent(Descent { w, lr, lambda });
            // SAFETY: as for the product in `matmul_views`, and `w` (shaped as `c`, checked by
            // the callers) is addressed exactly as `c` is: it is either `c` itself, each element
            // read by the kernel before it writes it, or storage that `c` does not overlap.
            if !unsafe { crate::small_k::product(small_k_operands(p, strides, out)) } {
                finite.store(false, Ordering::Relaxed);
            }
        });
        Some(finite.into_inner())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (c, w, lr, lambda, a_cs, b_rs, b_cs);
        None
    }
}

/// Whether [`descend_product`] takes any product of `T` on this CPU (`f32`, AVX2 and FMA): a
/// training step plans a descent only then.
pub(crate) fn can_descend<T: Real>() -> bool {
    small_k_kernel::<T>(usize::MAX, 1, (1, usize::MAX))
}

/// Runs `part` on the parts of the product `whole` ([`split`]): each a block of the output's
/// columns (or rows) and the matching storage of the factors, across the crate's threads.
fn in_parts(whole: Product, strides: Strides, part: &(dyn Fn(Product) + Sync)) {
    let Product { m, n, k, .. } = whole;
    let (per, parts, by_columns) = split(m, n, k);
    let size = if by_columns { n } else { m };
    let elem_bytes = whole.elem_bytes;
    crate::threads::run_parts(parts, &|index| {
        // The last part runs to the end (see `split`).
        let to = if index + 1 == parts { size } else { (index + 1) * per };
        let from = index * per;
        // Part `index` is the output's columns (or rows) `from..to`: the same product on offset
        // pointers, each output computed exactly as in the whole product.
        let p = if by_columns {
            Product {
                n: to - from,
                c: whole.c + from * m * elem_bytes,
                b: whole.b + from * strides.b_cs * elem_bytes,
                ..whole
            }
        } else {
            Product {
                m: to - from,
                c: whole.c + from * elem_bytes,
                a: whole.a + from * strides.a_rs * elem_bytes,
                ..whole
            }
        };
        part(p);
    });
}

/// The small-K kernel's operands for the product (or part) `p`, writing `out`.
#[cfg(target_arch = "x86_64")]
fn small_k_operands(p: Product, s: Strides, out: crate::small_k::Output) -> crate::small_k::Operands {
    crate::small_k::Operands {
        m: p.m,
        n: p.n,
        k: p.k,
        c: p.c as *mut f32,
        c_cs: s.c_cs,
        a: p.a as *const f32,
        a_rs: s.a_rs,
        a_cs: s.a_cs,
        b: p.b as *const f32,
        b_rs: s.b_rs,
        b_cs: s.b_cs,
        out,
    }
}

/// Whether [`crate::small_k`]'s kernel computes this product: `f32`, a left factor with unit row
/// stride (as stored) or unit column stride (transposed: the kernel packs it), a shape where the
/// kernel wins ([`small_k::worth`](crate::small_k::worth)), on a CPU with AVX2 and FMA.
fn small_k_kernel<T: Real>(m: usize, k: usize, (a_rs, a_cs): (usize, usize)) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::small_k::{available, worth};
        let packed = a_rs != 1;
        TypeId::of::<T>() == TypeId::of::<f32>() && (!packed || a_cs == 1) && worth(m, k, packed) && available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (m, k, a_rs, a_cs);
        false
    }
}

/// `c = a·b` for one product (or part) by faer, on the storage `p` addresses.
///
/// # Safety
/// `p.c`, `p.a` and `p.b` must address storage of `F` in which the strides `s` reach exactly the
/// `p.m × p.n`, `p.m × p.k` and `p.k × p.n` elements of `c`, `a` and `b`; `c`'s elements must be
/// writable and touched by nothing else during the call, and must not overlap `a`'s or `b`'s.
// The crate's `unsafe` uses are this product and the vector-width dispatch of `src/simd.rs`.
#[allow(unsafe_code)]
unsafe fn product_by_faer<F: faer::traits::RealField + faer::traits::Conjugate<Canonical = F>>(p: Product, s: Strides) {
    // SAFETY: the caller's contract (above) is exactly what faer's raw views require.
    let (c, a, b) = unsafe {
        (
            faer::MatMut::<F>::from_raw_parts_mut(p.c as *mut F, p.m, p.n, 1, s.c_cs as isize),
            faer::MatRef::<F>::from_raw_parts(p.a as *const F, p.m, p.k, s.a_rs as isize, s.a_cs as isize),
            faer::MatRef::<F>::from_raw_parts(p.b as *const F, p.k, p.n, s.b_rs as isize, s.b_cs as isize),
        )
    };
    // `Replace`: `c`'s old contents are not read. `Par::Seq`: the crate splits products itself.
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, F::one_impl(), faer::Par::Seq);
}

/// The strides of a product's storage: `c`'s column stride, and the (row, column) strides of
/// `op(a)` and `op(b)`.
#[derive(Clone, Copy)]
struct Strides {
    c_cs: usize,
    a_rs: usize,
    a_cs: usize,
    b_rs: usize,
    b_cs: usize,
}

/// One product's sizes and storage addresses (as integers, so that parts can be handed to other
/// threads).
#[derive(Clone, Copy)]
struct Product {
    m: usize,
    n: usize,
    k: usize,
    c: usize,
    a: usize,
    b: usize,
    /// The size of one element, in bytes.
    elem_bytes: usize,
}

/// Products with fewer multiply-adds (`m·n·k`) than this stay on the calling thread: waking
/// another thread costs microseconds, and the measurements saw small products lose 3–5×
/// when split. (2²⁰ multiply-adds take about 20 µs on one core.)
const SPLIT_MIN: usize = 1 << 20;

/// Parts start at multiples of this many columns or rows (the `f32` kernels' tile height is 16),
/// so that parts stay balanced (a 100-column output splits 56 + 44) with few ragged edge tiles.
const SPLIT_ALIGN: usize = 8;

/// How to split an `m × n` output over `k`: the columns (or rows) per part, the number of
/// parts, and whether by columns (else by rows), along the longer side; one part per thread when
/// the product is large, else a single part. Every part but the last has `per` columns (rows);
/// the last runs to the end, and is never narrower than [`SPLIT_ALIGN`]: a sliver left over
/// (17 columns on two threads would be 16 + 1) joins the part before it, since faer sums a
/// product of one column (or row) in another order than the same column of a wider one.
fn split(m: usize, n: usize, k: usize) -> (usize, usize, bool) {
    let by_columns = n >= m;
    let side = if by_columns { n } else { m };
    let threads = crate::threads::get().min(side / SPLIT_ALIGN);
    if m * n * k < SPLIT_MIN || threads < 2 {
        return (side, 1, by_columns);
    }
    let per = side.div_ceil(threads).next_multiple_of(SPLIT_ALIGN);
    let mut parts = side.div_ceil(per);
    if side - (parts - 1) * per < SPLIT_ALIGN {
        parts -= 1;
    }
    (per, parts, by_columns)
}

/// Products with at most this many multiply-adds (`m·n·k`) are computed by [`plain_product`]:
/// for the course's XOR network (4×2·2×3 and smaller) a plain loop costs less than a
/// kernel's dispatch, whose time also jumps between tiny shapes (measured in f64 against the `gemm`
/// crate used before faer: 4×3·3×1 took
/// 7 ns against its 12–14 ns, and it took 175 ns for 2×4·4×3 where the loop took 11 ns; at
/// 8×4·4×4 the loop's 48 ns is between its 28 and 72 ns).
const PLAIN_LOOP_MAX: usize = 128;

/// `c = op_a(a)·op_b(b)` as the definition writes it, each element a dot product summed from
/// `p = 0` up: for tiny products, and for scalar types other than `f32` and `f64`.
///
/// It walks the factors' contiguous runs: with `a` as stored, a column of `c` is built up from
/// whole columns of `a` (`c[·, j] += a[·, p]·b[p, j]` for `p = 0, 1, …`, which adds each element's
/// terms in the same order as its dot product); with `a` transposed, a row of `op(a)` is a column
/// of `a`. On the XOR bench this ran 15% fewer instructions in products than one strided dot
/// product per element (callgrind: 1,081,040,000 against 1,275,780,000). Up to 4 rows of `c` (`a`
/// as stored), or up to 4 terms per element (`a` transposed), the loops are unrolled: the XOR
/// fit's products then ran 1159 instructions an epoch against 1640, the same bits, and the
/// `xor-20000-f64-threads1` bench took 7.63 ms against 8.31 (medians, three interleaved rounds).
// Hot for tiny products, kept indexed: p < k and j < n, and the strides come from the views'
// dims, which the caller checked against each other, so every index is inside `b`. (Strided
// iterators instead ran 40% more instructions on the XOR bench, callgrind.)
#[allow(clippy::indexing_slicing)]
fn plain_product<T: Real>(c: ViewMut<'_, T>, a: View<'_, T>, op_a: Op, b: View<'_, T>, op_b: Op) {
    let (m, k) = op_a.shape(a.dims());
    let (b_rs, b_cs) = op_b.strides(b.dims());
    let b_at = |p: usize, j: usize| b.data[p * b_rs + j * b_cs];
    // The shapes of small networks (XOR's 2-3-1 has m = 4 forward and k = 4 in its weight
    // gradients) with their short loops unrolled: a column of `c`, or a row of `op(a)`, as an
    // array in registers.
    match (op_a, m, k) {
        (Op::Plain, 1, _) => columns_unrolled::<T, 1>(c.data, a.data, b_at),
        (Op::Plain, 2, _) => columns_unrolled::<T, 2>(c.data, a.data, b_at),
        (Op::Plain, 3, _) => columns_unrolled::<T, 3>(c.data, a.data, b_at),
        (Op::Plain, 4, _) => columns_unrolled::<T, 4>(c.data, a.data, b_at),
        (Op::Transposed, _, 1) => dots_unrolled::<T, 1>(c.data, a.data, m, b_at),
        (Op::Transposed, _, 2) => dots_unrolled::<T, 2>(c.data, a.data, m, b_at),
        (Op::Transposed, _, 3) => dots_unrolled::<T, 3>(c.data, a.data, m, b_at),
        (Op::Transposed, _, 4) => dots_unrolled::<T, 4>(c.data, a.data, m, b_at),
        _ => plain_product_any(c.data, a.data, op_a, (m, k), b_at),
    }
}

/// [`plain_product`] for `a` as stored with `M` rows: each column of `c` summed in an array,
/// `c[·, j] = Σ_p a[·, p]·b(p, j)` from `p = 0` (the order of each element's dot product).
fn columns_unrolled<T: Real, const M: usize>(c: &mut [T], a: &[T], b_at: impl Fn(usize, usize) -> T) {
    let (a_columns, _) = a.as_chunks::<M>();
    for (j, column) in c.as_chunks_mut::<M>().0.iter_mut().enumerate() {
        let mut sum = [T::zero(); M];
        for (p, a_p) in a_columns.iter().enumerate() {
            let s = b_at(p, j);
            for (out, &x) in sum.iter_mut().zip(a_p) {
                *out += x * s;
            }
        }
        *column = sum;
    }
}

/// [`plain_product`] for `a` transposed with inner dimension `K`: a row of `op(a)` is a column of
/// `a`, and each element is its dot product with `b`'s column `j`, read once per column.
fn dots_unrolled<T: Real, const K: usize>(c: &mut [T], a: &[T], m: usize, b_at: impl Fn(usize, usize) -> T) {
    let (a_rows, _) = a.as_chunks::<K>();
    for (j, column) in c.chunks_exact_mut(m).enumerate() {
        let b_j: [T; K] = std::array::from_fn(|p| b_at(p, j));
        for (out, a_i) in column.iter_mut().zip(a_rows) {
            *out = a_i.iter().zip(&b_j).fold(T::zero(), |sum, (&x, &y)| sum + x * y);
        }
    }
}

/// [`plain_product`] at any shape.
#[allow(clippy::indexing_slicing)]
fn plain_product_any<T: Real>(
    c: &mut [T],
    a: &[T],
    op_a: Op,
    (m, k): (usize, usize),
    b_at: impl Fn(usize, usize) -> T,
) {
    // m, k ≥ 1 here (matmul_views returns early for empty products), so the chunks are not empty.
    for (j, column) in c.chunks_exact_mut(m).enumerate() {
        match op_a {
            Op::Plain => {
                let mut columns = a.chunks_exact(m);
                // The first term as the dot product adds it, to 0 (`0 + x·s`, not `x·s`, which
                // keeps a −0 that the dot product would not); a fill before it called memset.
                let s = b_at(0, j);
                for (out, &x) in column.iter_mut().zip(columns.next().unwrap_or_default()) {
                    *out = T::zero() + x * s;
                }
                for (p, a_p) in columns.enumerate() {
                    let s = b_at(p + 1, j);
                    for (out, &x) in column.iter_mut().zip(a_p) {
                        *out += x * s;
                    }
                }
            }
            Op::Transposed => {
                for (out, a_i) in column.iter_mut().zip(a.chunks_exact(k)) {
                    *out = a_i.iter().enumerate().fold(T::zero(), |sum, (p, &x)| sum + x * b_at(p, j));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(rows: usize, cols: usize, scale: f64) -> DMatrix<f64> {
        DMatrix::from_fn(rows, cols, |i, j| ((i * 7 + j * 3) % 11) as f64 * scale - 0.4)
    }

    /// Every combination of transposes, at tiny, odd and larger shapes, against nalgebra's `*`.
    #[test]
    fn products_match_nalgebra() {
        // The plain loop up to 4·8·4 = 128 multiply-adds, faer from 4·9·4; in f32 the small-K
        // kernel from 256 rows with K ≤ 64 (ragged row blocks and column blocks included), and
        // from 16 rows in whole 16-row blocks with 2 ≤ K ≤ 64 (and not at 80×1, 72×8: faer), and
        // at 16 and 32 rows with K past 64 (not at 48 rows: faer).
        let shapes = [
            (1, 1, 1),
            (4, 2, 3),
            (4, 3, 1),
            (4, 8, 4),
            (4, 9, 4),
            (5, 6, 7),
            (33, 17, 9),
            (64, 100, 10),
            (3, 0, 4),
            (256, 26, 30),
            (1000, 64, 13),
            (263, 1, 7),
            (300, 65, 5),
            (64, 32, 13),
            (80, 2, 7),
            (80, 1, 7),
            (72, 8, 5),
            (16, 2, 7),
            (16, 1, 9),
            (32, 128, 10),
            (32, 300, 6),
            (48, 128, 3),
            (32, 13, 5),
            (48, 64, 7),
        ];
        for (m, k, n) in shapes {
            for op_a in [Op::Plain, Op::Transposed] {
                for op_b in [Op::Plain, Op::Transposed] {
                    let a = match op_a {
                        Op::Plain => numbered(m, k, 0.1),
                        Op::Transposed => numbered(k, m, 0.1),
                    };
                    let b = match op_b {
                        Op::Plain => numbered(k, n, 0.07),
                        Op::Transposed => numbered(n, k, 0.07),
                    };
                    let expected = transposed_if(&a, op_a) * transposed_if(&b, op_b);
                    let mut c = DMatrix::from_element(m, n, f64::NAN);
                    matmul(&mut c, &a, op_a, &b, op_b);
                    assert!((&c - &expected).amax() < 1e-12, "{m}x{k}x{n} {op_a:?} {op_b:?}");

                    let (a32, b32) = (a.map(|v| v as f32), b.map(|v| v as f32));
                    let mut c32 = DMatrix::from_element(m, n, f32::NAN);
                    matmul(&mut c32, &a32, op_a, &b32, op_b);
                    assert!((c32.map(f64::from) - &expected).amax() < 1e-4, "f32 {m}x{k}x{n} {op_a:?} {op_b:?}");
                }
            }
        }
    }

    /// A descent folded into the kernel's product gives the bits of the product by `matmul`
    /// followed by `SgdRule`'s step, wherever the kernel takes it — tiny products (which
    /// `matmul` sums in the plain loop) and transposed left factors included.
    #[test]
    fn folded_descents_give_the_bits_of_the_product_then_the_step() {
        let mut folded = 0;
        for op_a in [Op::Plain, Op::Transposed] {
            for (m, k, n) in [
                (16, 2, 4),
                (16, 2, 5),
                (64, 2, 1),
                (16, 3, 4),
                (32, 9, 7),
                (64, 17, 3),
                (256, 1, 2),
                (48, 64, 6),
                (32, 100, 5),
                (16, 300, 3),
            ] {
                let a = match op_a {
                    Op::Plain => numbered(m, k, 0.13),
                    Op::Transposed => numbered(k, m, 0.13),
                }
                .map(|v| v as f32);
                let b = numbered(k, n, 0.07).map(|v| v as f32);
                let w = numbered(m, n, 0.01).map(|v| v as f32);
                for lambda in [0.0, 1e-3] {
                    let mut g = DMatrix::zeros(m, n);
                    matmul(&mut g, &a, op_a, &b, Op::Plain);
                    let stepped = w.zip_map(&g, |w, g| crate::descent::step(w, g, 0.1, lambda));
                    let mut c = DMatrix::from_element(m, n, f32::NAN);
                    let taken = descend_product(&mut c, (&a, op_a), (&b, Op::Plain), &w, 0.1, lambda);
                    assert_eq!(taken.is_some(), descent_folds((&a, op_a), &b), "{m}x{k}x{n} {op_a:?}");
                    if taken.is_some() {
                        folded += 1;
                        assert_eq!(c, stepped, "{m}x{k}x{n} {op_a:?} λ = {lambda}");
                    }
                }
            }
        }
        if can_descend::<f32>() {
            assert!(folded >= 20, "the kernel took {folded} of the descents");
        }
    }

    /// Products split across threads (by rows or by columns) give the bits of the whole product
    /// on one thread.
    #[test]
    fn split_products_are_bit_identical() {
        let shapes = [
            (100, 784, 128),
            (784, 100, 128),
            (57600, 25, 30),
            // The small-K kernel's parts of 1032 rows: 64 vector blocks and a scalar tail of 8.
            (2056, 26, 30),
            // Whole 16-row blocks (a transposed `a` is packed), split into parts of 2056 rows
            // (128 blocks and a scalar tail of 8) on two threads.
            (4112, 24, 12),
            (30, 57600, 25),
            (57600, 30, 25),
            (97, 301, 203),
            (100, 1152, 10),
            (200, 1152, 10),
            (1152, 100, 10),
            (100, 10, 1152),
            (8, 57600, 26),
            (300, 4320, 40),
            (30, 57600, 26),
            (100, 4320, 100),
            (4320, 100, 100),
            (100, 100, 4320),
            // Sides whose last part would be a sliver (17 = 16 + 1 on two threads, 33 = 16 + 16
            // + 1 and 49 = 24 + 24 + 1 on three): faer sums a one-column (or one-row) product in
            // another order, so such a part joins the one before it.
            (16, 3863, 17),
            (17, 3863, 16),
            (32, 1000, 33),
            (33, 1000, 32),
            (48, 1000, 49),
            (49, 1000, 48),
        ];
        for (m, k, n) in shapes {
            for op_a in [Op::Plain, Op::Transposed] {
                for op_b in [Op::Plain, Op::Transposed] {
                    let a = match op_a {
                        Op::Plain => numbered(m, k, 0.1),
                        Op::Transposed => numbered(k, m, 0.1),
                    };
                    let b = match op_b {
                        Op::Plain => numbered(k, n, 0.07),
                        Op::Transposed => numbered(n, k, 0.07),
                    };
                    let (a32, b32) = (a.map(|v| v as f32), b.map(|v| v as f32));
                    let product = |threads: usize| {
                        crate::threads::set(threads);
                        let mut c = DMatrix::from_element(m, n, f64::NAN);
                        matmul(&mut c, &a, op_a, &b, op_b);
                        let mut c32 = DMatrix::from_element(m, n, f32::NAN);
                        matmul(&mut c32, &a32, op_a, &b32, op_b);
                        (c, c32)
                    };
                    let (one, one32) = product(1);
                    for threads in [2, 3, 5] {
                        let (many, many32) = product(threads);
                        let same = one.iter().zip(many.iter()).all(|(x, y)| x.to_bits() == y.to_bits());
                        let same32 = one32.iter().zip(many32.iter()).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(same && same32, "{m}x{k}x{n} {op_a:?} {op_b:?} on {threads} threads");
                    }
                }
            }
        }
        crate::threads::set(0);
    }

    /// `op(m)` as an owned matrix, by nalgebra.
    fn transposed_if(m: &DMatrix<f64>, op: Op) -> DMatrix<f64> {
        match op {
            Op::Plain => m.clone(),
            Op::Transposed => m.transpose(),
        }
    }

    #[test]
    #[should_panic(expected = "matmul")]
    fn mismatched_shapes_panic_before_any_product() {
        let mut c = DMatrix::<f64>::zeros(2, 2);
        matmul(&mut c, &DMatrix::zeros(2, 3), Op::Plain, &DMatrix::zeros(2, 2), Op::Plain);
    }
}
