//! What every optimizer shares: the learning rate and the weight decay (their setters, getters and
//! checks), the step's plumbing (checks first, then the rule's update, parameter by parameter) and
//! the export and import of the state.
//!
//! An optimizer is an [`Optim<R>`]: these shared parts around an update rule `R`, which holds
//! only what makes that optimizer — its own hyperparameters, the names of its state's buffers and
//! its update (see `sgd.rs` … `adamw.rs`).

use super::state::{counter, take_counter, Slot, State};
use super::{Optimizer, PlainDescent};
use crate::layer::folding::Taken;
use crate::layer::parts;
use crate::simd::wide_for;
use crate::threads;
use crate::{Dims, Divergence, Error, Param, Real, Result, StateMismatch};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::fmt::Debug;

/// The name of the step count in exported state.
const STEPS: &str = "steps";

/// An optimizer: the learning rate `η` and the [`WeightDecay`] every optimizer has, and its state,
/// around an update rule `R` — the hyperparameters and the update that make it [`Sgd`](crate::Sgd),
/// [`Adam`](crate::Adam) or another of the crate's optimizers.
///
/// Not used by this name: each optimizer is an alias of it (`type Adam = Optim<AdamRule<false>>`),
/// with the methods below and its own `with_*` setters and getters.
///
/// Construction never fails: [`new`](Optim::new) and the `with_*` setters store their values as
/// given, and [`validate`](Optim::validate) checks them all, once. Every
/// [step](Optimizer::step) validates first, so an optimizer with an invalid setting changes
/// nothing; `fit` validates its optimizer before training.
#[derive(Debug, Clone)]
pub struct Optim<R: UpdateRule> {
    /// The learning rate `η`.
    pub(super) learning_rate: f64,
    /// The weight decay.
    pub(super) weight_decay: WeightDecay,
    /// The optimizer's own hyperparameters.
    pub(super) rule: R,
    /// Steps taken, `t`; part of the state of rules that [count them](Rule::COUNTS_STEPS).
    pub(super) steps: u64,
    /// The buffers each parameter has in the rule's [slots](Rule::SLOTS).
    state: State,
    /// The settings the last step validated, and the scalar type it validated them in: a step
    /// validates again only when they differ (validating costs more than the whole update of a
    /// small network, such as the course's XOR).
    validated: Option<Validated<R>>,
}

/// What a step validated: the scalar type and every setting.
type Validated<R> = (std::any::TypeId, f64, WeightDecay, R);

/// An update rule of [`Optim`]: what makes an optimizer that optimizer — its own hyperparameters,
/// the buffers it keeps per parameter, and its update.
///
/// Implemented by the crate's rules only ([`SgdRule`](super::SgdRule),
/// [`MomentumRule`](super::MomentumRule), [`AdaGradRule`](super::AdaGradRule),
/// [`RmsPropRule`](super::RmsPropRule), [`AdamRule`](super::AdamRule)); an optimizer of your own
/// implements [`Optimizer`] instead.
pub trait UpdateRule: Rule {}

/// The update rules whose optimizers take any [`WeightDecay`] in `with_weight_decay`: all but
/// [`AdamW`](crate::AdamW)'s, whose decay is always decoupled and is set by its strength alone.
pub trait AnyWeightDecay: UpdateRule {}

/// The items of an [`UpdateRule`], crate-private: the trait outside sees only its name.
pub trait Rule: Debug + Clone + PartialEq + Send + 'static {
    /// The optimizer's [name](Optimizer::name).
    const NAME: &'static str;
    /// The default hyperparameters.
    const DEFAULT: Self;
    /// The weight decay of a new optimizer.
    const WEIGHT_DECAY: WeightDecay = WeightDecay::None;
    /// The buffers kept for each parameter, in the order [`Step::each`] hands them out; none for
    /// an optimizer without state.
    const SLOTS: &'static [Slot];
    /// Whether the state includes the step count `t` (exported as `"steps"`).
    const COUNTS_STEPS: bool = false;
    /// Whether the update is plain gradient descent (see [`Optimizer::plain_descent`]):
    /// [`SgdRule`](super::SgdRule)'s only.
    const PLAIN_DESCENT: bool = false;

    /// Checks the rule's own hyperparameters, in the order of its docs.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid one.
    fn validate(&self) -> Result<()>;

    /// The rule's `ε` added to a denominator, if it has one: it must stay > 0 in the network's
    /// scalar type (1e-50 is 0 in `f32`, and 0/0 is NaN).
    fn eps(&self) -> Option<f64> {
        None
    }

    /// Updates every parameter of `step` (all checked already) through [`Step::apply`] — or
    /// none, when a new value would not be finite.
    ///
    /// # Errors
    /// The [`Divergence`] found: then nothing has changed.
    fn update<T: Real>(&self, step: Step<'_, '_, T>) -> std::result::Result<(), Divergence>;
}

/// One step, as a rule's [update](Rule::update) sees it: the learning rate, the step number and
/// the parameters with their buffers, all checked.
#[derive(Debug)]
pub struct Step<'s, 'p, T: Real> {
    /// The learning rate `η`.
    pub lr: T,
    /// The step number `t`, from 1.
    pub t: u64,
    weight_decay: WeightDecay,
    params: &'s mut [&'p mut Param<T>],
    /// `K` per parameter, in order.
    buffers: &'s mut [DMatrix<T>],
}

impl<T: Real> Step<'_, '_, T> {
    /// Moves every parameter with a fresh gradient (consuming the gradients) by the elementwise
    /// rule `new` — or none: when any new value, of a parameter or of a buffer, would not be
    /// finite, no value and no buffer changes, and the error names the parameter and what
    /// overflowed.
    ///
    /// `new(decay, w, g, b)` is one element's new value and new buffer values, from its value
    /// `w`, gradient `g` and `K` buffer values `b` (`K` = the rule's [slots](Rule::SLOTS)), with
    /// the parameter's weight decay coefficients `decay = (λ_L2, λ_decoupled)` (see
    /// [`WeightDecay::coefficients`]). `squares`: whether the rule squares the gradient (a square
    /// that overflows is the gradient's fault, not the learning rate's).
    ///
    /// The passes over the parameters, each one loop over contiguous memory:
    /// - without buffers (`K = 0`), one: each parameter's new values are written into its
    ///   gradient's buffer, which then becomes the value (an O(1) exchange). A parameter that
    ///   fails is left as it was, and the ones before it are exchanged back.
    /// - with buffers, two: one computes every new value and checks it without writing (the
    ///   gradient's finiteness is checked in it too), the second computes and writes them.
    ///
    /// On a divergence the gradients are consumed as well (their buffers may hold other values).
    #[inline]
    pub(crate) fn apply<const K: usize>(
        self,
        squares: bool,
        new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]) + Copy + Send + Sync,
    ) -> std::result::Result<(), Divergence> {
        assert_eq!(self.buffers.len(), K * self.params.len(), "{K} buffers per parameter");
        let Step { lr, weight_decay, params, buffers, .. } = self;
        let result = if K == 0 {
            apply_in_place(lr, weight_decay, params, new)
        } else {
            apply_checked(lr, weight_decay, squares, params, buffers, new)
        };
        params.iter_mut().for_each(|p| p.consume_grad());
        result
    }
}

/// [`Step::apply`] without buffers: one pass per parameter, into the gradient's buffer.
fn apply_in_place<T: Real, const K: usize>(
    lr: T,
    weight_decay: WeightDecay,
    params: &mut [&mut Param<T>],
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]) + Copy + Send + Sync,
) -> std::result::Result<(), Divergence> {
    for index in 0..params.len() {
        // `done`: the parameters before this one, moved already.
        let Some((done, [param, ..])) = params.split_at_mut_checked(index) else { break };
        // The backward pass may have taken the planned descent (only `SgdRule`'s, see
        // `Optimizer::plain_descent`): its buffer holds the new values, all finite, or the step
        // is deferred, certainly finite, and written below once every other update succeeded.
        match param.folded() {
            Taken::IntoBuffer => {
                param.swap_value_and_grad();
                continue;
            }
            Taken::Deferred => continue,
            Taken::No => {}
        }
        let decay = weight_decay.coefficients::<T>(param.decays());
        let Some((value, grad)) = param.value_and_grad_mut() else {
            continue;
        };
        let (grad_finite, new_finite) = new_into_grad(value, grad, decay, new);
        if !new_finite {
            let cause = blame(lr, decay, false, grad_finite.then_some(&*value), None);
            let name = param.name();
            // Put back the parameters already moved (those with a fresh gradient before this one
            // but the deferred ones, not written yet).
            done.iter_mut()
                .filter(|p| p.grad().is_some() && p.folded() != Taken::Deferred)
                .for_each(|p| p.swap_value_and_grad());
            return Err(cause.at(index, name));
        }
        param.swap_value_and_grad();
    }
    params.iter_mut().for_each(|p| p.finish_deferred_step());
    Ok(())
}

/// [`Step::apply`] with buffers: a checking pass over every parameter, then a writing one.
fn apply_checked<T: Real, const K: usize>(
    lr: T,
    weight_decay: WeightDecay,
    squares: bool,
    params: &mut [&mut Param<T>],
    buffers: &mut [DMatrix<T>],
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]) + Copy + Send + Sync,
) -> std::result::Result<(), Divergence> {
    for (index, (param, bufs)) in params.iter_mut().zip(buffers.chunks_exact(K.max(1))).enumerate() {
        let decay = weight_decay.coefficients::<T>(param.decays());
        let Some((value, grad)) = param.value_and_grad_mut() else {
            continue;
        };
        // `bufs` is a chunk of K (the state holds K buffers per parameter, checked by Step).
        let bufs: [&[T]; K] = std::array::from_fn(|k| bufs.get(k).map_or(&[][..], |b| b.as_slice()));
        let (grad_finite, new_finite) = check_new(value, grad, bufs, decay, new);
        if !new_finite {
            let cause = blame(lr, decay, squares, grad_finite.then_some(&*value), Some(&*grad));
            return Err(cause.at(index, param.name()));
        }
    }
    for (param, bufs) in params.iter_mut().zip(buffers.chunks_exact_mut(K.max(1))) {
        let decay = weight_decay.coefficients::<T>(param.decays());
        let Some((value, grad)) = param.value_and_grad_mut() else {
            continue;
        };
        let mut bufs = bufs.iter_mut();
        let bufs: [&mut [T]; K] = std::array::from_fn(|_| bufs.next().map_or(&mut [][..], |b| b.as_mut_slice()));
        write_new(value, grad, bufs, decay, new);
    }
    Ok(())
}

/// Writes every element's new value into `grad` (a rule without buffers); returns whether every
/// gradient and every new value is finite (`&=` of booleans: a reduction the compiler may
/// reorder, so the loop vectorizes, without a branch).
///
/// A large parameter is split into parts, one per thread ([`parts::part_len`]); each element
/// is computed alike whatever the split.
fn new_into_grad<T: Real, const K: usize>(
    value: &[T],
    grad: &mut [T],
    decay: (T, T),
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]) + Copy + Send + Sync,
) -> (bool, bool) {
    let per = parts::part_len(value.len(), 1);
    if per >= value.len() {
        return new_into_grad_part(value, grad, decay, new);
    }
    threads::on_pool(|| {
        value
            .par_chunks(per)
            .zip(grad.par_chunks_mut(per))
            .map(|(v, g)| new_into_grad_part(v, g, decay, new))
            .reduce(|| (true, true), both)
    })
}

/// [`new_into_grad`] on one part.
///
/// Never inlined, like [`write_new`]: its slices are then known not to alias.
#[inline(never)]
fn new_into_grad_part<T: Real, const K: usize>(
    value: &[T],
    grad: &mut [T],
    decay: (T, T),
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]),
) -> (bool, bool) {
    // The gradient has the parameter's shape (checked by Step): the zip covers every element.
    wide_for(value.len(), move || {
        let (mut grads_finite, mut new_finite) = (true, true);
        for (&w, g) in value.iter().zip(grad.iter_mut()) {
            let (w_new, _) = new(decay, w, *g, [T::zero(); K]);
            grads_finite &= g.is_finite();
            new_finite &= w_new.is_finite();
            *g = w_new;
        }
        (grads_finite, new_finite)
    })
}

/// Whether every gradient is finite, and whether every new value and buffer value is; writes
/// nothing. A large parameter is checked in parts, one per thread.
fn check_new<T: Real, const K: usize>(
    value: &[T],
    grad: &[T],
    bufs: [&[T]; K],
    decay: (T, T),
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]) + Copy + Send + Sync,
) -> (bool, bool) {
    let n = value.len();
    let per = parts::part_len(n, 1);
    if per >= n {
        return check_new_part(value, grad, bufs, decay, new);
    }
    threads::on_pool(|| {
        (0..n.div_ceil(per))
            .into_par_iter()
            .map(|part| {
                let (from, to) = (part * per, ((part + 1) * per).min(n));
                // `grad` and the buffers have the parameter's length (checked by Step).
                let bufs = bufs.map(|b| b.get(from..to).unwrap_or_default());
                let (value, grad) = (value.get(from..to).unwrap_or_default(), grad.get(from..to).unwrap_or_default());
                check_new_part(value, grad, bufs, decay, new)
            })
            .reduce(|| (true, true), both)
    })
}

/// Two parts' `(gradients finite, new values finite)` as one.
fn both((grads_a, new_a): (bool, bool), (grads_b, new_b): (bool, bool)) -> (bool, bool) {
    (grads_a & grads_b, new_a & new_b)
}

/// [`check_new`] on one part.
// Hot loop kept indexed: `grad` and each buffer are cut to value's length at entry (Step checked
// that gradients and buffers have the parameter's shape), so every k < n is inside all of them.
#[allow(clippy::indexing_slicing)]
#[inline(never)]
fn check_new_part<T: Real, const K: usize>(
    value: &[T],
    grad: &[T],
    bufs: [&[T]; K],
    decay: (T, T),
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]),
) -> (bool, bool) {
    let n = value.len();
    let grad = &grad[..n];
    let bufs = bufs.map(|b| &b[..n]);
    // `&=` of booleans is a reduction the compiler may reorder, so the loop vectorizes (`wide`:
    // as wide as the CPU allows; the loop must be inside it to be compiled so).
    wide_for(n, move || {
        let (mut grads_finite, mut new_finite) = (true, true);
        for k in 0..n {
            let (w_new, b_new) = new(decay, value[k], grad[k], bufs.map(|b| b[k]));
            grads_finite &= grad[k].is_finite();
            new_finite &= b_new.iter().fold(w_new.is_finite(), |all, v| all & v.is_finite());
        }
        (grads_finite, new_finite)
    })
}

/// Writes every element's new value and buffer values: the rules have one or two buffers, each
/// passed on as an argument of its own (see [`write_1`]).
fn write_new<T: Real, const K: usize>(
    value: &mut [T],
    grad: &[T],
    bufs: [&mut [T]; K],
    decay: (T, T),
    new: impl Fn((T, T), T, T, [T; K]) -> (T, [T; K]) + Copy + Send + Sync,
) {
    // Everything the loops read is moved into their closures: a captured reference could alias
    // the values written, and the loop would not vectorize.
    // The crate's rules keep one or two buffers (a third would need a `write_3`); K is a constant,
    // so `first` and `last` fold away.
    let mut bufs = bufs.into_iter();
    match (bufs.next(), bufs.next()) {
        (Some(a), None) => write_1(value, grad, a, move |w, g, a| {
            let (w, b) = new(decay, w, g, std::array::from_fn(|_| a));
            (w, b.first().copied().unwrap_or(a))
        }),
        (Some(a), Some(b)) => write_2(value, grad, a, b, move |w, g, a, b| {
            let (w, m) = new(decay, w, g, std::array::from_fn(|j| if j == 0 { a } else { b }));
            (w, m.first().copied().unwrap_or(a), m.last().copied().unwrap_or(b))
        }),
        // Without buffers (`apply_in_place` takes these rules; written out for completeness).
        (None, _) => value.iter_mut().zip(grad).for_each(|(w, &g)| *w = new(decay, *w, g, [T::zero(); K]).0),
    }
}

/// The write pass of a rule with one buffer `a`; a large parameter in parts, one per thread.
fn write_1<T: Real>(value: &mut [T], grad: &[T], a: &mut [T], new: impl Fn(T, T, T) -> (T, T) + Copy + Send + Sync) {
    let per = parts::part_len(value.len(), 1);
    if per >= value.len() {
        return write_1_part(value, grad, a, new);
    }
    threads::on_pool(|| {
        value.par_chunks_mut(per).zip(grad.par_chunks(per)).zip(a.par_chunks_mut(per)).for_each(
            |((value, grad), a)| {
                write_1_part(value, grad, a, new);
            },
        );
    });
}

/// [`write_1`] on one part.
///
/// Never inlined, on purpose: in a function of its own, `value` and the buffer are reference
/// arguments, which the compiler knows alias nothing else, so the loop vectorizes without checks
/// (measured: with the buffers in an array, Adam's update was 3× slower). `wide` inside, so the
/// loop is compiled for the CPU's widest vectors.
#[inline(never)]
fn write_1_part<T: Real>(value: &mut [T], grad: &[T], a: &mut [T], new: impl Fn(T, T, T) -> (T, T)) {
    wide_for(value.len(), move || {
        for ((w, &g), a) in value.iter_mut().zip(grad).zip(a.iter_mut()) {
            (*w, *a) = new(*w, g, *a);
        }
    });
}

/// The write pass of a rule with two buffers `a` and `b` (see [`write_1`]).
fn write_2<T: Real>(
    value: &mut [T],
    grad: &[T],
    a: &mut [T],
    b: &mut [T],
    new: impl Fn(T, T, T, T) -> (T, T, T) + Copy + Send + Sync,
) {
    let per = parts::part_len(value.len(), 1);
    if per >= value.len() {
        return write_2_part(value, grad, a, b, new);
    }
    threads::on_pool(|| {
        value
            .par_chunks_mut(per)
            .zip(grad.par_chunks(per))
            .zip(a.par_chunks_mut(per))
            .zip(b.par_chunks_mut(per))
            .for_each(|(((value, grad), a), b)| write_2_part(value, grad, a, b, new));
    });
}

/// [`write_2`] on one part (see [`write_1_part`]).
#[inline(never)]
fn write_2_part<T: Real>(value: &mut [T], grad: &[T], a: &mut [T], b: &mut [T], new: impl Fn(T, T, T, T) -> (T, T, T)) {
    wide_for(value.len(), move || {
        for (((w, &g), a), b) in value.iter_mut().zip(grad).zip(a.iter_mut()).zip(b.iter_mut()) {
            (*w, *a, *b) = new(*w, g, *a, *b);
        }
    });
}

/// What overflowed in a parameter whose new values are not all finite: its gradient (`None` when
/// it was not finite; else its value), the weight decay's term `λ·W` or `η·λ·W`, the square of
/// the gradient in a rule that takes it (when the gradient is still there to look at), or else
/// the step the learning rate scales. Runs only after a failed check.
fn blame<T: Real>(lr: T, (l2, decoupled): (T, T), squares: bool, value: Option<&[T]>, grad: Option<&[T]>) -> Cause {
    let Some(value) = value else {
        return Cause::Gradient;
    };
    let decay_overflows =
        |w: T| !(l2 * w).is_finite() || !(decoupled * w).is_finite() || !(lr * decoupled * w).is_finite();
    if value.iter().any(|&w| decay_overflows(w)) {
        return Cause::WeightDecay;
    }
    if let (true, Some(grad)) = (squares, grad) {
        if value.iter().zip(grad).any(|(&w, &g)| !((g + l2 * w) * (g + l2 * w)).is_finite()) {
            return Cause::Gradient;
        }
    }
    Cause::LearningRate
}

/// A [`Divergence`] before it knows its parameter.
#[derive(Debug, Clone, Copy)]
enum Cause {
    Gradient,
    WeightDecay,
    LearningRate,
}

impl Cause {
    fn at(self, index: usize, name: &'static str) -> Divergence {
        match self {
            Cause::Gradient => Divergence::Gradient { index, name },
            Cause::WeightDecay => Divergence::WeightDecay { index, name },
            Cause::LearningRate => Divergence::LearningRate { index, name },
        }
    }
}

impl<R: UpdateRule> Optim<R> {
    /// The optimizer with learning rate `learning_rate` and its defaults for everything else (see
    /// the optimizer's docs), no state yet.
    ///
    /// Nothing is checked here: [`validate`](Optim::validate) does, and so does every step.
    pub fn new(learning_rate: f64) -> Self {
        Optim {
            learning_rate,
            weight_decay: R::WEIGHT_DECAY,
            rule: R::DEFAULT,
            steps: 0,
            state: State::default(),
            validated: None,
        }
    }

    /// The learning rate `η`.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Changes the learning rate; the same as [`Optimizer::set_learning_rate`], without naming
    /// the scalar type.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] named `"learning_rate"` unless the rate is finite and > 0; the
    /// rate is then unchanged.
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.learning_rate = check_learning_rate(learning_rate)?;
        Ok(())
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }

    /// Checks every setting: the learning rate (finite and > 0), the optimizer's own
    /// hyperparameters in the order of its docs, then the weight decay (`λ` finite and ≥ 0).
    /// The same as [`Optimizer::validate`], without naming the scalar type.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first invalid setting: `"learning_rate"`,
    /// `"momentum"`, `"rho"`, `"beta1"`, `"beta2"`, `"eps"` or `"weight_decay"`.
    pub fn validate(&self) -> Result<()> {
        check_learning_rate(self.learning_rate)?;
        self.rule.validate()?;
        self.weight_decay.validate()?;
        Ok(())
    }

    /// The settings a step validates, with the scalar type it validates them in.
    fn settings<T: Real>(&self) -> Validated<R> {
        (std::any::TypeId::of::<T>(), self.learning_rate, self.weight_decay, self.rule.clone())
    }

    /// An error for a state that does not fit.
    fn mismatch(mismatch: StateMismatch) -> Error {
        Error::OptimizerState { optimizer: R::NAME, mismatch }
    }
}

impl<R: AnyWeightDecay> Optim<R> {
    /// The same optimizer with weight decay `weight_decay` (`λ` finite and ≥ 0, checked by
    /// [`validate`](Optim::validate)).
    pub fn with_weight_decay(mut self, weight_decay: WeightDecay) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl<T: Real, R: UpdateRule> Optimizer<T> for Optim<R> {
    fn clone_box(&self) -> Option<Box<dyn Optimizer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn name(&self) -> &'static str {
        R::NAME
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        Optim::set_learning_rate(self, learning_rate)
    }

    /// [`Optim::validate`], then the same settings as the scalar type `T` holds them: the
    /// learning rate and `ε` must stay finite and > 0 and the weight decay finite (`1e39` is
    /// infinite in `f32`, `1e-50` is 0).
    fn validate(&self) -> Result<()> {
        Optim::validate(self)?;
        let in_t = |name, value: f64, expected| {
            let v = T::cast(value);
            if v.is_finite() && v > T::zero() {
                Ok(())
            } else {
                Err(Error::InvalidConfig {
                    name,
                    value: format!("{value:e} ({} in {})", crate::check::number(v.to_f64()), T::NAME),
                    expected,
                })
            }
        };
        in_t("learning_rate", self.learning_rate, "> 0 and finite in the network's scalar type")?;
        if let Some(eps) = self.rule.eps() {
            in_t("eps", eps, "> 0 and finite in the network's scalar type")?;
        }
        let lambda = self.weight_decay.lambda();
        if lambda > 0.0 {
            in_t("weight_decay", lambda, "finite in the network's scalar type")?;
        }
        Ok(())
    }

    fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }

    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        let mut state = self.state.export(R::SLOTS);
        if R::COUNTS_STEPS && !state.is_empty() {
            state.push(counter(STEPS, self.steps));
        }
        state
    }

    fn set_state(&mut self, mut state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        let steps = if R::COUNTS_STEPS { take_counter(&mut state, STEPS).map_err(Self::mismatch)? } else { None };
        let buffers = State::import(R::SLOTS, state).map_err(Self::mismatch)?;
        if R::COUNTS_STEPS && buffers.is_created() != steps.is_some() {
            let name = match R::SLOTS.first() {
                Some(slot) if !buffers.is_created() => format!("0.{}", slot.name()),
                _ => STEPS.to_string(),
            };
            return Err(Self::mismatch(StateMismatch::MissingTensor { name }));
        }
        self.state = buffers;
        self.steps = steps.unwrap_or(0);
        Ok(())
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let settings = self.settings::<T>();
        if self.validated.as_ref() != Some(&settings) {
            Optimizer::<T>::validate(self)?;
            self.validated = Some(settings);
        }
        check_gradients(params)?;
        let created = self.state.is_created();
        let buffers = self.state.prepare(R::SLOTS, params).map_err(Self::mismatch)?;
        let t = self.steps + 1;
        let step = Step { lr: T::cast(self.learning_rate), t, weight_decay: self.weight_decay, params, buffers };
        match self.rule.update(step) {
            Ok(()) => {
                self.steps = t;
                Ok(())
            }
            Err(cause) => {
                // The state as before the step: none, if this step created it.
                if !created {
                    self.state = State::default();
                }
                Err(Error::Diverged { epoch: None, step: None, loss: f64::NAN, cause, parameter: None, history: None })
            }
        }
    }

    fn checks_updates(&self) -> bool {
        true
    }

    fn plain_descent(&self) -> Option<PlainDescent> {
        // Asked before every training step: the last step's validation answers when the
        // settings are the same.
        let valid = R::PLAIN_DESCENT
            && (self.validated.as_ref() == Some(&self.settings::<T>()) || Optimizer::<T>::validate(self).is_ok());
        valid.then(|| PlainDescent::new(self.learning_rate, self.weight_decay))
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
/// For [`Sgd`](crate::Sgd) the two give the same steps; they differ in every optimizer with state.
///
/// # Example
/// ```
/// use backprop::{Adam, Error, WeightDecay};
/// let adam = Adam::new(0.001).with_weight_decay(WeightDecay::L2(1e-4));
/// assert_eq!(adam.weight_decay(), WeightDecay::L2(1e-4));
/// assert!(matches!(
///     WeightDecay::Decoupled(-1.0).validate(),
///     Err(Error::InvalidConfig { name: "weight_decay", .. })
/// ));
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
            Err(Error::InvalidConfig {
                name: "weight_decay",
                value: crate::check::number(lambda),
                expected: ">= 0 and finite",
            })
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
        Err(Error::InvalidConfig { name: "learning_rate", value: crate::check::number(lr), expected: "> 0 and finite" })
    }
}

/// Checks a decay rate of a running average (momentum, β₁, β₂, ρ): in `[0, 1)`.
pub(crate) fn check_rate(name: &'static str, rate: f64) -> Result<()> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidConfig { name, value: crate::check::number(rate), expected: "in [0, 1)" })
    }
}

/// Checks the `ε` added to a denominator: finite and > 0.
pub(crate) fn check_eps(eps: f64) -> Result<()> {
    if eps.is_finite() && eps > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidConfig { name: "eps", value: crate::check::number(eps), expected: "> 0 and finite" })
    }
}

/// Checks that every parameter has a fresh gradient of its own shape.
pub(crate) fn check_gradients<T: Real>(params: &[&mut Param<T>]) -> Result<()> {
    for (index, param) in params.iter().enumerate() {
        let Some(grad) = param.grad() else {
            return Err(Error::MissingGradient { index, name: param.name() });
        };
        if grad.shape() != param.value().shape() {
            return Err(Error::GradientShape {
                index,
                name: param.name(),
                expected: param.dims(),
                got: Dims::from(grad),
            });
        }
    }
    Ok(())
}
