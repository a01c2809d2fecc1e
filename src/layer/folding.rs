//! A parameter's part in plain gradient descent folded into its gradient's product
//! ([`Optimizer::plain_descent`](crate::Optimizer::plain_descent)).
//!
//! A training step plans the descent `W ← W − η·g` (or `W − η·(g + λ·W)`) on the parameters
//! before the backward pass; a layer whose weight gradient `g = op(a)·b` runs on the small-K
//! kernel ([`matmul::descent_folds`]) then takes the step in one of two ways:
//! - **into the gradient's buffer**: the product writes the new values there, and the optimizer
//!   makes them the value by exchanging the two buffers (O(1), and undone by exchanging them
//!   back if another parameter's update fails);
//! - **deferred, in place**: when the factors are small next to `W` (as at batch 1) and the
//!   step certainly leaves every value finite — by a bound on `|W|` ([`matmul::descent_bound`]):
//!   the largest `|W|` read once, then carried from step to step by the bound itself, until
//!   anything else writes `W` — the layer keeps a copy of the factors `a` and `b` and writes
//!   nothing; the optimizer, once every other parameter's update has succeeded, writes the new
//!   values over `W`. A batch-1 MNIST step (784 × 128 weights, 401 KB) then writes `W` alone,
//!   where the exchange wrote a second buffer of that size every step.
//!
//! Both write the bits that [`SgdRule`](crate::SgdRule)'s pass over a stored gradient writes.

use crate::check::largest_magnitude;
use crate::matmul::{descend_in_place, descend_product, descent_bound, descent_folds, Op};
use crate::Real;
use nalgebra::DMatrix;

/// How a layer's backward pass took the planned step ([`Folding::descend`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Not taken: the gradient's buffer holds the gradient, for the optimizer's own pass.
    #[default]
    No,
    /// The gradient's buffer holds the new values, all finite.
    IntoBuffer,
    /// Deferred: the optimizer writes the new values in place ([`Folding::finish`]).
    Deferred,
}

/// The planned step, how it was taken, and what the deferred step needs.
#[derive(Clone, Debug)]
pub(crate) struct Folding<T: Real> {
    /// The training step's plan: `(η, λ)`.
    plan: Option<(T, T)>,
    taken: Taken,
    /// A bound on every `|value|`, while nothing but deferred steps has written the value since
    /// it was taken (see [`forget_bound`](Folding::forget_bound)).
    bound: Option<f64>,
    /// The bound after the deferred step.
    next_bound: f64,
    /// A deferred step's factors: its gradient is `op_a(a)·b`.
    a: DMatrix<T>,
    op_a: Op,
    b: DMatrix<T>,
}

impl<T: Real> Default for Folding<T> {
    fn default() -> Self {
        let empty = || DMatrix::zeros(0, 0);
        Folding { plan: None, taken: Taken::No, bound: None, next_bound: 0.0, a: empty(), op_a: Op::Plain, b: empty() }
    }
}

/// The plan and how it was taken: the bound and the factors are a cache and scratch memory, not
/// part of what a parameter is.
impl<T: Real> PartialEq for Folding<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.plan, self.taken) == (other.plan, other.taken)
    }
}

impl<T: Real> Folding<T> {
    /// Plans this step's descent with `(η, λ)`, or ends the plan (`None`); returns whether a
    /// step taken under the old plan is dropped (the gradient's buffer then holds nothing usable).
    pub(crate) fn plan(&mut self, plan: Option<(T, T)>) -> bool {
        let dropped = plan.is_none() && self.taken != Taken::No;
        if dropped {
            self.taken = Taken::No;
        }
        self.plan = plan;
        dropped
    }

    /// The step is used (or dropped): the gradient's buffer is written anew or consumed.
    pub(crate) fn clear(&mut self) {
        self.taken = Taken::No;
    }

    /// How the backward pass took the planned step.
    pub(crate) fn taken(&self) -> Taken {
        self.taken
    }

    /// For the backward pass, with the parameter's `value` and gradient `buffer`: takes the
    /// planned step, whose gradient is `op_a(a)·b`, if the kernel computes that product — in
    /// place (deferred) when the step certainly keeps every value finite, else into `buffer`.
    /// Returns whether it took the step; if not, the caller writes the gradient into `buffer`
    /// (which then holds nothing usable).
    ///
    /// Where the carried bound has grown too loose, the largest `|value|` is read again (one
    /// pass over the value) before giving up on the step in place.
    pub(crate) fn descend(
        &mut self,
        value: &DMatrix<T>,
        buffer: &mut DMatrix<T>,
        (a, op_a): (&DMatrix<T>, Op),
        b: &DMatrix<T>,
    ) -> bool {
        self.taken = Taken::No;
        let Some((lr, lambda)) = self.plan else {
            return false;
        };
        if !descent_folds((a, op_a), b) {
            return false;
        }
        let bound_from = |w_max: f64| descent_bound(w_max, (a, b), lr, lambda);
        let next = if defer_pays(value, a, b) {
            self.bound.and_then(bound_from).or_else(|| bound_from(largest_magnitude(value.as_slice()).to_f64()))
        } else {
            None
        };
        if let Some(next) = next {
            copy_into(&mut self.a, a);
            copy_into(&mut self.b, b);
            self.op_a = op_a;
            self.next_bound = next;
            self.taken = Taken::Deferred;
            return true;
        }
        self.bound = None;
        if descend_product(buffer, (a, op_a), (b, Op::Plain), value, lr, lambda) == Some(true) {
            self.taken = Taken::IntoBuffer;
            return true;
        }
        false
    }

    /// For the optimizer, once every other parameter's update succeeded: writes the deferred
    /// step into `value`. The step was taken only where every new value is finite.
    pub(crate) fn finish(&mut self, value: &mut DMatrix<T>) {
        let Some((lr, lambda)) = self.plan.filter(|_| self.taken == Taken::Deferred) else {
            return;
        };
        let written = descend_in_place(value, (&self.a, self.op_a), (&self.b, Op::Plain), lr, lambda);
        debug_assert_eq!(written, Some(true), "a deferred step is taken only where it stays finite");
        self.bound = Some(self.next_bound);
        self.taken = Taken::No;
    }

    /// After any other write of the value: the bound no longer holds.
    pub(crate) fn forget_bound(&mut self) {
        self.bound = None;
    }
}

/// Whether a deferred step saves more than it costs: it keeps a copy of the factors and reads
/// their largest magnitudes (about two passes over `a` and `b`) to save writing a second matrix
/// of `value`'s size — worth it when the factors hold at most a quarter as many values, as at
/// batch 1 (784 + 128 values against 784 × 128), not when they are as large as the weights (the
/// digits MLP's batch-32 first layer: 64 × 32 + 32 × 128 values against 64 × 128).
fn defer_pays<T: Real>(value: &DMatrix<T>, a: &DMatrix<T>, b: &DMatrix<T>) -> bool {
    (a.len() + b.len()).saturating_mul(4) <= value.len()
}

/// `dst ← src`, reusing `dst`'s memory.
fn copy_into<T: Real>(dst: &mut DMatrix<T>, src: &DMatrix<T>) {
    crate::layer::ensure_shape(dst, src.nrows(), src.ncols());
    dst.as_mut_slice().copy_from_slice(src.as_slice());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Decay, Param};

    /// A step in place carries a bound on the weights to the next step; every other write of the
    /// value ends it, so a weight made huge between steps is looked at before a step in place.
    #[test]
    fn every_other_write_of_the_value_ends_the_carried_bound() {
        if !crate::matmul::can_descend::<f32>() {
            return; // The kernel needs AVX2 and FMA: nothing folds here.
        }
        // ∂E/∂W = xᵀ·δ for one sample: 256 inputs, 16 outputs.
        let (x, delta) = (DMatrix::from_element(1, 256, 1.0f32), DMatrix::from_element(1, 16, 0.25f32));
        let step = |p: &mut Param<f32>| {
            p.plan_descent(Some((0.1, 0.0)));
            assert!(p.descend((&x, Op::Transposed), &delta), "the kernel takes 256 × 1 · 1 × 16");
            let taken = p.folded();
            match taken {
                Taken::Deferred => p.finish_deferred_step(),
                Taken::IntoBuffer => p.swap_value_and_grad(),
                Taken::No => {}
            }
            p.consume_grad();
            p.plan_descent(None);
            taken
        };
        let huge = f32::MAX;
        type Write = fn(&mut Param<f32>, f32);
        let writers: [(&str, Write); 5] = [
            ("value_mut", |p, v| p.value_mut()[(0, 0)] = v),
            ("set_value", |p, v| {
                let mut value = p.value().clone();
                value[(0, 0)] = v;
                p.set_value(&value, crate::LayerId::kind("dense")).unwrap();
            }),
            ("take_update", |p, v| {
                p.grad_mut();
                if let Some((mut value, _)) = p.take_update() {
                    value[(0, 0)] = v;
                }
            }),
            ("take_update_flat", |p, v| {
                p.grad_mut();
                if let Some((value, _)) = p.take_update_flat() {
                    value[0] = v;
                }
            }),
            ("value_and_grad_mut", |p, v| {
                p.grad_mut();
                if let Some((value, _)) = p.value_and_grad_mut() {
                    value[0] = v;
                }
                p.consume_grad();
            }),
        ];
        for (name, write) in writers {
            let mut p = Param::new("weight", DMatrix::from_element(256, 16, 0.5f32), Decay::Applies);
            assert_eq!(step(&mut p), Taken::Deferred, "{name}: small weights step in place");
            assert_eq!(step(&mut p), Taken::Deferred, "{name}: and carry their bound");
            write(&mut p, huge);
            // The step would stay finite (0.025 off a value this large), but cannot be proven so
            // in advance: it goes through the buffer, and is checked.
            assert_eq!(step(&mut p), Taken::IntoBuffer, "{name}: a write ends the bound");
            let stepped = |w: f32| w - 0.1f32 * 0.25f32;
            assert_eq!(p.value()[(0, 0)], stepped(huge), "{name}");
            assert_eq!(p.value()[(1, 0)], stepped(stepped(stepped(0.5))), "{name}: three steps");
        }
    }

    /// A step whose factors hold as many values as the weights goes through the buffer (copying
    /// them would cost what writing in place saves), to the same values.
    #[test]
    fn factors_as_large_as_the_weights_step_through_the_buffer() {
        if !crate::matmul::can_descend::<f32>() {
            return; // The kernel needs AVX2 and FMA: nothing folds here.
        }
        // ∂E/∂W = xᵀ·δ for a batch of 32 samples, 64 inputs, 128 outputs: 2048 + 4096 values of
        // the factors against 8192 weights (the digits MLP's first layer, whose batch is stored
        // sample by sample, as xᵀ).
        let (x_t, delta) = (DMatrix::from_element(64, 32, 1.0f32), DMatrix::from_element(32, 128, 0.25f32));
        let mut p = Param::new("weight", DMatrix::from_element(64, 128, 0.5f32), Decay::Applies);
        p.plan_descent(Some((0.1, 0.0)));
        assert!(p.descend((&x_t, Op::Plain), &delta), "the kernel takes 64 × 32 · 32 × 128");
        assert_eq!(p.folded(), Taken::IntoBuffer);
        p.swap_value_and_grad();
        p.consume_grad();
        assert!(p.value().iter().all(|&w| w == 0.5 - 0.1f32 * 8.0), "w − η·Σ 32 × 1 × 0.25");
    }
}
