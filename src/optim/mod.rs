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
//! # Settings: built freely, checked once
//!
//! The learning rate `η` is always given (`new(learning_rate)`); the other hyperparameters have
//! the defaults above and `with_*` setters. Every optimizer takes a [`WeightDecay`] (none by
//! default, except `AdamW`'s). Constructors and setters never fail — they store the value as
//! given, so a chain needs no `?`:
//!
//! ```
//! use backprop::{Adam, Error, Sgd, WeightDecay};
//! let adam = Adam::new(1e-3).with_betas(0.8, 0.99).with_eps(1e-7).with_weight_decay(WeightDecay::L2(1e-4));
//! assert!(adam.validate().is_ok());
//! // The first invalid setting is named, in the order learning rate, the optimizer's own
//! // hyperparameters, weight decay.
//! let err = Sgd::new(-0.1).with_weight_decay(WeightDecay::L2(-1.0)).validate().unwrap_err();
//! assert!(matches!(err, Error::InvalidConfig { name: "learning_rate", .. }));
//! ```
//!
//! The settings are checked in one place, [`Optimizer::validate`] (also an inherent method,
//! [`Optim::validate`], so no scalar type needs naming): the learning rate finite and > 0; the
//! rates of running averages (`momentum`, `rho`, `beta1`, `beta2`) in `[0, 1)`; `eps` finite
//! and > 0; the weight decay's `λ` finite and ≥ 0. The first invalid one is an
//! [`Error::InvalidConfig`] naming it. Every [`step`](Optimizer::step) validates before it changes
//! anything, so an invalid optimizer never moves a parameter, and `fit` validates its optimizer
//! with the rest of its configuration before training. The one fallible setter is
//! [`Optimizer::set_learning_rate`], for learning-rate schedules: it refuses an invalid rate and
//! keeps the old one.
//!
//! # Shared parts, own rules
//!
//! Every optimizer is an [`Optim<R>`]: the learning rate, the weight decay, the step's checks and
//! the state's export and import, shared, around an update rule `R` ([`SgdRule`],
//! [`MomentumRule`], [`AdaGradRule`], [`RmsPropRule`], [`AdamRule`]) that holds what makes it that
//! optimizer — its own hyperparameters, its state's buffers and its update, as the book's
//! optimizer classes do. [`Sgd`], [`Adam`] and the others are aliases of `Optim` with their rule.
//!
//! # State
//!
//! All state (velocities, moments, the step count) is created on the first step, for that
//! step's parameters: a later step with parameters of another number, shape or scalar type is an
//! [`Error::OptimizerState`] (with a [`StateMismatch`] saying which). To
//! train another network, use a fresh optimizer.
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
mod checked;
mod hyper;
mod momentum;
mod rmsprop;
mod sgd;
mod state;

pub use adagrad::{AdaGrad, AdaGradRule};
pub use adam::{Adam, AdamRule};
pub use adamw::AdamW;
pub(crate) use checked::{checked_step, Undo};
pub(crate) use hyper::check_gradients;
pub use hyper::{AnyWeightDecay, Optim, UpdateRule, WeightDecay};
pub use momentum::{Momentum, MomentumRule, Nesterov};
pub use rmsprop::{RmsProp, RmsPropRule};
pub use sgd::{Sgd, SgdRule};

use crate::{Error, Param, Real, Result, StateMismatch};
use nalgebra::DMatrix;
use std::fmt::Debug;

/// Updates parameters from their gradients, one step at a time.
///
/// A step gets every parameter of the network in its stable order (layer by layer, each layer's
/// documented order). An optimizer keeps its per-parameter state (momentum, moments) by position,
/// creates it on the first step, and must check everything before it changes anything — its own
/// settings ([`validate`](Optimizer::validate)) first: a step that fails leaves parameters and
/// state as they were.
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

    /// Checks every setting of the optimizer (learning rate, its own hyperparameters, weight
    /// decay); [`step`](Optimizer::step) calls it first, and `fit` calls it before training.
    ///
    /// The default, for optimizers written outside the crate, accepts everything; one with
    /// settings of its own should check them here.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid setting (`"learning_rate"`,
    /// `"momentum"`, `"rho"`, `"beta1"`, `"beta2"`, `"eps"`, `"weight_decay"` for the crate's
    /// optimizers).
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Applies one update to `params`, consuming their gradients.
    ///
    /// The training loop keeps every parameter finite around it: an optimizer that says it
    /// [checks its updates](Optimizer::checks_updates) must refuse a step that would leave a
    /// non-finite value (returning [`Error::Diverged`], nothing changed); for any other, the
    /// training step checks the gradients before, and the values and the
    /// [state](Optimizer::state) after, and puts back what was there before when one is not
    /// finite.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a setting is invalid (see [`validate`](Optimizer::validate));
    /// [`Error::MissingGradient`] if a parameter has no fresh gradient;
    /// [`Error::GradientShape`] if a gradient's shape differs from its parameter's;
    /// [`Error::OptimizerState`] if the parameters differ in number, shape or scalar type from
    /// the ones the optimizer's state was created for. Nothing has changed then.
    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()>;

    /// Whether [`step`](Optimizer::step) itself refuses an update that would leave a non-finite
    /// parameter or state value (or a non-finite gradient): it then returns [`Error::Diverged`]
    /// with the cause, and no value, no state has changed. The crate's optimizers do, checking
    /// in the passes they make anyway.
    ///
    /// The default, `false`, is always safe: the training step then checks the gradients first,
    /// keeps a copy of the values and the exported [state](Optimizer::state), and after the step
    /// puts them back (through [`set_state`](Optimizer::set_state)) if anything is not finite.
    fn checks_updates(&self) -> bool {
        false
    }

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
    /// parameters is an [`Error::OptimizerState`], as usual.
    ///
    /// # Errors
    /// [`Error::OptimizerState`] for anything that is not such a state, with the
    /// [`StateMismatch`] found first. The default, for optimizers that keep no state, accepts
    /// only an empty list (anything else is a [`StateMismatch::UnknownTensor`]).
    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        match state.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => {
                Err(Error::OptimizerState { optimizer: self.name(), mismatch: StateMismatch::UnknownTensor { name } })
            }
        }
    }

    /// Whether this optimizer's step is plain gradient descent — `W ← W − η·g`, or with its
    /// weight decay `W ← W − η·(g + λ·W)` — which a training step may then fold into the
    /// backward pass of the layers that only the crate's containers hold (a container of your
    /// own may work on its children's gradients, so its layers keep them): a layer whose
    /// weight-gradient product can finish with the update writes
    /// the new values at once (one pass over the weights where the product and the update made
    /// two) — over the weights themselves once every other update has succeeded, when the step
    /// is certain to keep them finite, else into the gradient's buffer — and the step only makes
    /// them the values. The results are the same bits.
    ///
    /// Only [`Sgd`] says so (when its settings are valid). The default, `None`, is right for
    /// every other optimizer, and for one that wraps an `Sgd` but reads the gradients itself
    /// (to clip or record them): with `Some`, its step would find the new values where the
    /// gradients were.
    fn plain_descent(&self) -> Option<PlainDescent> {
        None
    }

    /// A copy of the optimizer, its settings and state included, boxed; `None` (the default)
    /// for one that cannot be copied. Every optimizer of the crate can; an optimizer of your own
    /// that is `Clone` overrides it as `Some(Box::new(self.clone()))`. (A provided method
    /// returning `Option`, so optimizers written before it still compile.)
    /// [`FitConfig::try_clone`](crate::FitConfig::try_clone) needs it.
    fn clone_box(&self) -> Option<Box<dyn Optimizer<T>>> {
        None
    }
}

/// A boxed optimizer is an optimizer: one chosen at run time (`Box<dyn Optimizer<T>>`) goes
/// wherever an optimizer does, as into [`FitConfig::new`](crate::FitConfig::new). Every method
/// is passed on to the boxed optimizer, the provided ones included (its own checks, weight
/// decay, penalty, state and copy).
impl<T: Real, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        (**self).set_learning_rate(learning_rate)
    }

    fn validate(&self) -> Result<()> {
        (**self).validate()
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        (**self).step(params)
    }

    fn checks_updates(&self) -> bool {
        (**self).checks_updates()
    }

    fn weight_decay(&self) -> WeightDecay {
        (**self).weight_decay()
    }

    fn penalty(&self, params: &[&Param<T>]) -> f64 {
        (**self).penalty(params)
    }

    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        (**self).state()
    }

    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        (**self).set_state(state)
    }

    fn plain_descent(&self) -> Option<PlainDescent> {
        (**self).plain_descent()
    }

    fn clone_box(&self) -> Option<Box<dyn Optimizer<T>>> {
        (**self).clone_box()
    }
}

/// An optimizer's step that is plain gradient descent: its learning rate and weight decay (see
/// [`Optimizer::plain_descent`]). Made by the crate's [`Sgd`] only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlainDescent {
    learning_rate: f64,
    weight_decay: WeightDecay,
}

impl PlainDescent {
    /// The step of an `Sgd` with these settings.
    pub(crate) fn new(learning_rate: f64, weight_decay: WeightDecay) -> Self {
        PlainDescent { learning_rate, weight_decay }
    }

    /// `(η, λ)` for a parameter that [decays](Param::decays) or not, in `T`: the values
    /// [`SgdRule`]'s update computes with.
    pub(crate) fn for_param<T: Real>(&self, decays: bool) -> (T, T) {
        let (l2, decoupled) = self.weight_decay.coefficients::<T>(decays);
        (T::cast(self.learning_rate), l2 + decoupled)
    }
}
