//! Optimizers: how parameters move, given their gradients.
//!
//! | optimizer | update of a parameter `W` with gradient `g` | defaults |
//! |---|---|---|
//! | [`Sgd`] | `W ← W − η·g` | — |
//! | [`Momentum`] | `v ← α·v − η·g`, `W ← W + v` | α = 0.9 |
//! | [`Nesterov`] | `v ← α·v − η·g`, `W ← W + α·v − η·g` | α = 0.9 |
//! | [`AdaGrad`] | `h ← h + g²`, `W ← W − η·g / (√h + ε)` | ε = 1e-7 |
//! | [`RmsProp`] | `h ← ρ·h + (1 − ρ)·g²`, `W ← W − η·g / (√h + ε)` | ρ = 0.99, ε = 1e-7 |
//! | [`Adam`] | `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`, `W ← W − η·m̂ / (√v̂ + ε)` | β₁ = 0.9, β₂ = 0.999, ε = 1e-8 |
//! | [`AdamW`] | Adam, plus `W ← W − η·λ·W` | as Adam, λ = 0.01 |
//!
//! The learning rate `η` is always given (`new(learning_rate)`); the other hyperparameters have
//! the defaults above and `with_*` setters, which check their value and return a [`Result`].
//! Every optimizer takes a [`WeightDecay`] (none by default, except `AdamW`'s).
//!
//! All state (velocities, moments, the step count) is created on the first step, for that
//! step's parameters: a later step with parameters of another number, shape or scalar type is an
//! [`Error::OptimizerStateMismatch`]. To train another network, use a fresh optimizer.
//!
//! [`Optimizer::state`] exports that state as named matrices and [`Optimizer::set_state`]
//! imports it (checkpoints use them to resume training): a per-parameter buffer is named
//! `"<parameter index>.<slot>"`, a counter is a 1×1 matrix.
//!
//! | optimizer | state |
//! |---|---|
//! | [`Sgd`] | none |
//! | [`Momentum`], [`Nesterov`] | `<i>.velocity` |
//! | [`AdaGrad`] | `<i>.sum_squares` |
//! | [`RmsProp`] | `<i>.mean_square` |
//! | [`Adam`], [`AdamW`] | `<i>.m`, `<i>.v`, and `steps` |

mod adagrad;
mod adam;
mod adamw;
mod momentum;
mod rmsprop;
mod sgd;
mod state;

pub use adagrad::AdaGrad;
pub use adam::Adam;
pub use adamw::AdamW;
pub use momentum::{Momentum, MomentumSgd, Nesterov};
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use crate::{Dims, Error, LayerId, Param, Real, Result};
use nalgebra::DMatrix;
use std::fmt::Debug;

/// Updates parameters from their gradients, one step at a time.
///
/// A step gets every parameter of the network in its stable order (layer by layer, each layer's
/// documented order). An optimizer keeps its per-parameter state (momentum, moments) by position,
/// creates it on the first step, and must check everything before it changes anything: a step that
/// fails leaves parameters and state as they were.
pub trait Optimizer<T: Real>: Debug + Send {
    /// A short lowercase name, e.g. `"sgd"`.
    fn name(&self) -> &'static str;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (learning-rate schedules call this between epochs).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless the rate is finite and > 0; the rate is then unchanged.
    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()>;

    /// Applies one update to `params`, consuming their gradients.
    ///
    /// # Errors
    /// [`Error::MissingGradient`] if a parameter has no fresh gradient;
    /// [`Error::ShapeMismatch`] if a gradient's shape differs from its parameter's;
    /// [`Error::OptimizerStateMismatch`] if the parameters differ in number or shape from the
    /// ones the optimizer's state was created for.
    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()>;

    /// The weight decay the optimizer applies in its steps; [`WeightDecay::None`] unless the
    /// optimizer overrides this.
    fn weight_decay(&self) -> WeightDecay {
        WeightDecay::None
    }

    /// The regularization term the optimizer's weight decay stands for, to add to the loss that
    /// training reports: `½·λ·ΣW²` over the parameters that [decay](Param::decays) with
    /// [`WeightDecay::L2`], and 0 otherwise (decoupled decay has no loss term).
    ///
    /// The step itself never needs it — with L2 decay it adds the term's gradient `λ·W` — so
    /// this is for reporting only: the training loop computes it from the parameters *before*
    /// the step, the ones the batch's loss was computed with, and adds it to that loss. The
    /// default is [`WeightDecay::penalty`] of [`weight_decay`](Optimizer::weight_decay), which is
    /// 0 for an optimizer without weight decay.
    fn penalty(&self, params: &[&Param<T>]) -> f64 {
        self.weight_decay().penalty(params)
    }

    /// The optimizer's state (velocities, moments, counters) as named matrices, to save and
    /// later restore with [`set_state`](Optimizer::set_state); hyperparameters are not part of
    /// it. Per-parameter buffers are named `"<parameter index>.<slot>"` (`"0.velocity"`,
    /// `"3.m"`) and shaped like their parameter; counters are 1×1 matrices (Adam's `"steps"`).
    ///
    /// Empty before the first step (and for an optimizer without state); the default, for
    /// optimizers that keep none, is always empty.
    ///
    /// A counter stored as `f32` is exact up to 2²⁴ (16,777,216) steps.
    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        Vec::new()
    }

    /// Replaces the optimizer's state with one exported by [`state`](Optimizer::state) (from an
    /// optimizer of the same kind; the matrices may come in any order). An empty list means
    /// "no step taken yet": the state is dropped, and created again on the next step.
    ///
    /// Everything is checked before anything changes — the number of matrices, their names,
    /// shapes (a parameter's buffers share one shape), values (finite; sums and averages of
    /// squares ≥ 0) and counters (non-negative integers) — so on error the optimizer is
    /// unchanged. The shapes are not checked against any network here: a later step with other
    /// parameters is an [`Error::OptimizerStateMismatch`], as usual.
    ///
    /// # Errors
    /// [`Error::OptimizerStateMismatch`] for anything that is not such a state. The default,
    /// for optimizers that keep no state, accepts only an empty list.
    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        match state.first() {
            None => Ok(()),
            Some((name, _)) => Err(Error::OptimizerStateMismatch {
                expected: format!("{} (no state)", self.name()),
                got: format!("a state to import with {} tensors, the first {name:?}", state.len()),
            }),
        }
    }
}

/// Weight decay: shrinking the parameters that [decay](Param::decays) (weights, not biases, by
/// default) towards zero at every step, with strength `λ ≥ 0`.
///
/// - [`L2`](WeightDecay::L2), the book's: the loss gets the term `½·λ·ΣW²`, so every gradient
///   gets `λ·W` added before the optimizer's update uses it (and, in adaptive optimizers, is
///   scaled with it). [`Optimizer::penalty`] gives the term.
/// - [`Decoupled`](WeightDecay::Decoupled), as in AdamW (Loshchilov & Hutter,
///   <http://arxiv.org/abs/1711.05101>): `W ← W − η·λ·W` applied besides the gradient step, with
///   `W` the value before the step, whatever the optimizer does with the gradient.
///
/// For [`Sgd`] the two give the same steps; they differ in every optimizer with state.
///
/// # Example
/// ```
/// use backprop::{Adam, Error, WeightDecay};
/// let adam = Adam::new(0.001)?.with_weight_decay(WeightDecay::L2(1e-4))?;
/// assert_eq!(adam.weight_decay(), WeightDecay::L2(1e-4));
/// assert!(matches!(
///     WeightDecay::Decoupled(-1.0).validate(),
///     Err(Error::InvalidConfig { name: "weight_decay", .. })
/// ));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum WeightDecay {
    /// No weight decay.
    #[default]
    None,
    /// Coupled L2 regularization with strength `λ`: `λ·W` added to the gradient.
    L2(f64),
    /// Decoupled weight decay with strength `λ`: `W ← W − η·λ·W` besides the gradient step.
    Decoupled(f64),
}

impl WeightDecay {
    /// The strength `λ` (0 for [`WeightDecay::None`]).
    pub fn lambda(self) -> f64 {
        match self {
            WeightDecay::None => 0.0,
            WeightDecay::L2(lambda) | WeightDecay::Decoupled(lambda) => lambda,
        }
    }

    /// Checks the strength: finite and ≥ 0.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] named `"weight_decay"` otherwise.
    pub fn validate(self) -> Result<Self> {
        let lambda = self.lambda();
        if lambda.is_finite() && lambda >= 0.0 {
            Ok(self)
        } else {
            Err(Error::InvalidConfig { name: "weight_decay", value: lambda.to_string(), expected: ">= 0 and finite" })
        }
    }

    /// `½·λ·ΣW²` over the parameters that [decay](Param::decays), for [`WeightDecay::L2`];
    /// 0 for the others.
    pub fn penalty<T: Real>(self, params: &[&Param<T>]) -> f64 {
        match self {
            WeightDecay::L2(lambda) => {
                let sum: f64 = params
                    .iter()
                    .filter(|p| p.decays())
                    .flat_map(|p| p.value().iter())
                    .map(|w| w.to_f64() * w.to_f64())
                    .sum();
                0.5 * lambda * sum
            }
            WeightDecay::None | WeightDecay::Decoupled(_) => 0.0,
        }
    }

    /// The coefficients `(λ_L2, λ_decoupled)` for one parameter, as the scalar type; both 0 for
    /// a parameter that does not decay.
    pub(crate) fn coefficients<T: Real>(self, decays: bool) -> (T, T) {
        match self {
            WeightDecay::L2(lambda) if decays => (T::cast(lambda), T::zero()),
            WeightDecay::Decoupled(lambda) if decays => (T::zero(), T::cast(lambda)),
            _ => (T::zero(), T::zero()),
        }
    }
}

/// Checks a learning rate: finite and > 0.
pub(crate) fn check_learning_rate(lr: f64) -> Result<f64> {
    if lr.is_finite() && lr > 0.0 {
        Ok(lr)
    } else {
        Err(Error::InvalidConfig { name: "learning_rate", value: lr.to_string(), expected: "> 0 and finite" })
    }
}

/// Checks a decay rate of a running average (momentum, β₁, β₂, ρ): in `[0, 1)`.
pub(crate) fn check_rate(name: &'static str, rate: f64) -> Result<f64> {
    if (0.0..1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(Error::InvalidConfig { name, value: rate.to_string(), expected: "in [0, 1)" })
    }
}

/// Checks the `ε` added to a denominator: finite and > 0.
pub(crate) fn check_eps(eps: f64) -> Result<f64> {
    if eps.is_finite() && eps > 0.0 {
        Ok(eps)
    } else {
        Err(Error::InvalidConfig { name: "eps", value: eps.to_string(), expected: "> 0 and finite" })
    }
}

/// Checks that every parameter has a fresh gradient of its own shape.
pub(crate) fn check_gradients<T: Real>(params: &[&mut Param<T>]) -> Result<()> {
    for (index, param) in params.iter().enumerate() {
        let Some(grad) = param.grad() else {
            return Err(Error::MissingGradient { index, name: param.name() });
        };
        if grad.shape() != param.value().shape() {
            return Err(Error::ShapeMismatch {
                layer: LayerId::kind("optimizer"),
                what: "gradient",
                expected: param.dims(),
                got: Dims::from(grad),
            });
        }
    }
    Ok(())
}
