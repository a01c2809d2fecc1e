//! Adam: momentum and RMSProp together, with bias correction.

use super::state::{counter, take_counter, with_slices, Slot, State};
use super::{check_eps, check_learning_rate, check_rate, Optimizer, WeightDecay};
use crate::{Error, Param, Real, Result};
use nalgebra::DMatrix;

/// The names of the state's buffers.
const SLOTS: [Slot; 2] = [Slot::signed("m"), Slot::non_negative("v")];

/// Adam (<http://arxiv.org/abs/1412.6980v8>): running averages of the gradient and of its square,
/// corrected for starting at 0.
///
/// ```text
/// t ← t + 1
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
/// W ← W − η·m̂ / (√v̂ + ε)
/// ```
///
/// element-wise, with learning rate `η` (the paper's `α`; 0.001 is its suggestion), `β₁` = 0.9,
/// `β₂` = 0.999 and `ε` = 1e-8 by default (the paper's and PyTorch's), and `m`, `v`, `t` starting
/// at 0. (*Deep Learning from Scratch*'s `Adam` adds its `ε` = 1e-7 to `√v` rather than `√v̂`.)
///
/// Weight decay: [`WeightDecay::L2`]`(λ)` uses `g + λ·W` for `g` (PyTorch's
/// `Adam(weight_decay=λ)`); [`WeightDecay::Decoupled`]`(λ)` subtracts `η·λ·W` from `W` as well,
/// which is [`AdamW`](crate::AdamW). Default: none.
///
/// # Example
/// ```
/// use backprop::Adam;
/// let adam = Adam::new(0.001)?.with_betas(0.8, 0.99)?;
/// assert_eq!(adam.betas(), (0.8, 0.99));
/// assert!(Adam::new(0.001)?.with_betas(0.9, 1.0).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Adam {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: WeightDecay,
    /// Steps taken, `t`.
    steps: u64,
    /// The moments `m` and `v` of each parameter.
    state: State<2>,
}

impl Adam {
    /// Adam with learning rate `learning_rate`, `β₁` = 0.9, `β₂` = 0.999, `ε` = 1e-8, no weight
    /// decay.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"learning_rate"` unless the
    /// rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(Adam {
            learning_rate: check_learning_rate(learning_rate)?,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: WeightDecay::None,
            steps: 0,
            state: State::default(),
        })
    }

    /// The same optimizer with decay rates `β₁ = beta1` (of `m`) and `β₂ = beta2` (of `v`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"beta1"` or `"beta2"`
    /// unless it is in `[0, 1)`.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Result<Self> {
        self.beta1 = check_rate("beta1", beta1)?;
        self.beta2 = check_rate("beta2", beta2)?;
        Ok(self)
    }

    /// The same optimizer with `ε = eps`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"eps"` unless it is finite
    /// and > 0.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check_eps(eps)?;
        Ok(self)
    }

    /// The same optimizer with weight decay `weight_decay`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"weight_decay"` unless `λ`
    /// is finite and ≥ 0.
    pub fn with_weight_decay(mut self, weight_decay: WeightDecay) -> Result<Self> {
        self.weight_decay = weight_decay.validate()?;
        Ok(self)
    }

    /// The learning rate `η`.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The decay rates `(β₁, β₂)`.
    pub fn betas(&self) -> (f64, f64) {
        (self.beta1, self.beta2)
    }

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }

    /// Steps taken so far, `t`.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The moments and the step count as named matrices (see [`Optimizer::state`]).
    pub(crate) fn export_state<T: Real>(&self) -> Vec<(String, DMatrix<T>)> {
        let mut state = self.state.export(&SLOTS);
        if !state.is_empty() {
            state.push(counter("steps", self.steps));
        }
        state
    }

    /// Replaces the moments and the step count, all checked first (see [`Optimizer::set_state`]).
    pub(crate) fn import_state<T: Real>(&mut self, name: &str, mut state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        let steps = take_counter(name, &mut state, "steps")?;
        let moments = State::import(name, &SLOTS, state)?;
        if moments.is_created() != steps.is_some() {
            return Err(Error::OptimizerStateMismatch {
                expected: format!("{name} (the moments <i>.m, <i>.v and the count \"steps\", or nothing)"),
                got: format!(
                    "a state to import with {}",
                    if moments.is_created() { "no \"steps\"" } else { "only \"steps\"" }
                ),
            });
        }
        self.state = moments;
        self.steps = steps.unwrap_or(0);
        Ok(())
    }

    pub(crate) fn step_params<T: Real>(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let buffers = self.state.prepare(params)?;
        self.steps += 1;
        // β^t, with t saturated where β^t has long been 0.
        let t = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let lr = T::cast(self.learning_rate);
        let (beta1, beta2) = (T::cast(self.beta1), T::cast(self.beta2));
        let (one_minus_beta1, one_minus_beta2) = (T::cast(1.0 - self.beta1), T::cast(1.0 - self.beta2));
        let correct1 = T::cast(1.0 / (1.0 - self.beta1.powi(t)));
        let correct2 = T::cast(1.0 / (1.0 - self.beta2.powi(t)));
        let eps = T::cast(self.eps);
        for (param, bufs) in params.iter_mut().zip(buffers.iter_mut()) {
            let (l2, decoupled) = self.weight_decay.coefficients::<T>(param.decays());
            let Some((value, grad)) = param.take_update_flat() else {
                continue;
            };
            with_slices(value, grad, bufs, |w, g, [m, v]| {
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = g + l2 * *w;
                    *m = beta1 * *m + one_minus_beta1 * g;
                    *v = beta2 * *v + one_minus_beta2 * g * g;
                    let m_hat = *m * correct1;
                    let v_hat = *v * correct2;
                    *w -= lr * (m_hat / (v_hat.sqrt() + eps) + decoupled * *w);
                }
            });
        }
        Ok(())
    }
}

impl<T: Real> Optimizer<T> for Adam {
    fn name(&self) -> &'static str {
        "adam"
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.learning_rate = check_learning_rate(learning_rate)?;
        Ok(())
    }

    fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }

    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        self.export_state()
    }

    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        self.import_state("adam", state)
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        self.step_params(params)
    }
}
