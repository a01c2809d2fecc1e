//! One element's step of gradient descent, the formula that [`SgdRule`](crate::SgdRule)'s pass
//! and the small-K kernel's folded descent ([`crate::small_k`]) share — here, apart from both,
//! so that the kernel's module does not reach into the optimizers.

use crate::Real;

/// One element's step of gradient descent: `w − η·g`, or `w − η·(g + λ·w)` with decay — each
/// product and sum rounded in this order. The small-K kernel's folded descent computes these
/// bits too (its vector lanes in the same order).
pub(crate) fn step<T: Real>(w: T, g: T, lr: T, lambda: T) -> T {
    // Without decay, exactly `W − η·g` (`g + 0·W` would turn a −0 gradient into +0).
    if lambda == T::zero() {
        w - lr * g
    } else {
        w - lr * (g + lambda * w)
    }
}
