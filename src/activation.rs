//! Element-wise activation functions and their derivatives, side by side.
//!
//! An [`Activation`] is a function applied to every element. Every activation is also a
//! [`Layer`](crate::Layer): push it straight into a network builder. Softmax is not element-wise, so it is a layer of its own
//! ([`Softmax`](crate::Softmax)).

use crate::{LayerConfig, Real};
use std::fmt::Debug;

/// An element-wise function `y = f(x)` and its derivative `dy/dx`.
///
/// The derivative is given both `x` and `y = f(x)`, so functions whose derivative is cheapest
/// from the output can use it (sigmoid: `y(1 − y)`, tanh: `1 − y²`).
///
/// # Example: a custom activation
/// ```
/// use backprop::{Activation, Real};
///
/// /// Softplus: ln(1 + eˣ), derivative σ(x).
/// #[derive(Debug, Clone, Copy)]
/// struct Softplus;
///
/// impl Activation for Softplus {
///     fn name(&self) -> &'static str { "softplus" }
///     fn f<T: Real>(&self, x: T) -> T { (T::one() + x.exp()).ln() }
///     fn df<T: Real>(&self, x: T, _y: T) -> T { T::one() / (T::one() + (-x).exp()) }
/// }
/// assert!((Softplus.f(0.0_f64) - 2f64.ln()).abs() < 1e-15);
/// ```
pub trait Activation: Debug + Clone + Copy + Send + Sync + 'static {
    /// A short lowercase name used in messages and saved files, e.g. `"sigmoid"`.
    fn name(&self) -> &'static str;

    /// The function: `y = f(x)`.
    fn f<T: Real>(&self, x: T) -> T;

    /// The derivative `f'(x)`, given `x` and `y = f(x)`.
    fn df<T: Real>(&self, x: T, y: T) -> T;

    /// Whether `f` is differentiable everywhere (sigmoid, tanh, identity); `false` for functions
    /// with a kink (ReLU, leaky ReLU and the step function at 0), the default. See
    /// [`Layer::is_smooth`](crate::Layer::is_smooth).
    fn is_smooth(&self) -> bool {
        false
    }

    /// Checks the activation's settings when a network is built (the default has none to check).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming the bad setting.
    fn validate(&self) -> crate::Result<()> {
        Ok(())
    }

    /// Its name and settings, as saved in model files. The default records the name only;
    /// activations with settings (such as [`LeakyRelu`]'s slope) add them.
    fn layer_config(&self) -> LayerConfig {
        LayerConfig::new(self.name())
    }
}

/// The step function of the perceptron: `1` if `x > 0`, else `0`.
///
/// Its derivative is 0 everywhere except at `x = 0`, where it does not exist (it is reported as
/// 0 there too). A network of step functions therefore cannot learn by backpropagation — which is
/// why the course replaces it with the sigmoid — but it can run weights learned with one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step;

impl Activation for Step {
    fn name(&self) -> &'static str {
        "step"
    }
    fn f<T: Real>(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
    fn df<T: Real>(&self, _x: T, _y: T) -> T {
        T::zero()
    }
}

/// The logistic sigmoid `σ(x) = 1 / (1 + e⁻ˣ)`, derivative `y(1 − y)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Activation for Sigmoid {
    fn is_smooth(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    #[inline]
    fn f<T: Real>(&self, x: T) -> T {
        T::one() / (T::one() + (-x).exp())
    }
    #[inline]
    fn df<T: Real>(&self, _x: T, y: T) -> T {
        y * (T::one() - y)
    }
}

/// The hyperbolic tangent, derivative `1 − y²`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;

impl Activation for Tanh {
    fn is_smooth(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "tanh"
    }
    fn f<T: Real>(&self, x: T) -> T {
        x.tanh()
    }
    fn df<T: Real>(&self, _x: T, y: T) -> T {
        T::one() - y * y
    }
}

/// The rectified linear unit `max(0, x)`, derivative 1 for `x > 0`, else 0 (0 at the kink, as
/// in the common frameworks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relu;

impl Activation for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }
    #[inline]
    fn f<T: Real>(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            T::zero()
        }
    }
    #[inline]
    fn df<T: Real>(&self, x: T, _y: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
}

/// Leaky ReLU: `x` for `x > 0`, else `alpha·x`; derivative 1 or `alpha` (`alpha` at 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// Slope for negative inputs (0.01 by default).
    pub alpha: f64,
}

impl Default for LeakyRelu {
    fn default() -> Self {
        LeakyRelu { alpha: 0.01 }
    }
}

impl Activation for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn validate(&self) -> crate::Result<()> {
        if self.alpha.is_finite() {
            Ok(())
        } else {
            let value = self.alpha.to_string();
            Err(crate::Error::InvalidConfig { name: "leaky_relu alpha", value, expected: "a finite slope" })
        }
    }
    fn layer_config(&self) -> LayerConfig {
        LayerConfig::new(self.name()).with("alpha", self.alpha)
    }
    fn f<T: Real>(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            T::cast(self.alpha) * x
        }
    }
    fn df<T: Real>(&self, x: T, _y: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::cast(self.alpha)
        }
    }
}

/// The identity `f(x) = x`, derivative 1: the output of a regression network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl Activation for Identity {
    fn is_smooth(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "identity"
    }
    fn f<T: Real>(&self, x: T) -> T {
        x
    }
    fn df<T: Real>(&self, _x: T, _y: T) -> T {
        T::one()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_at_known_points() {
        assert_eq!(Step.f(0.0_f64), 0.0);
        assert_eq!(Step.f(1e-9_f64), 1.0);
        assert_eq!(Sigmoid.f(0.0_f64), 0.5);
        assert_eq!(Sigmoid.df(0.0_f64, 0.5), 0.25);
        assert_eq!(Relu.f(-2.0_f64), 0.0);
        assert_eq!(Relu.df(0.0_f64, 0.0), 0.0);
        assert_eq!(LeakyRelu { alpha: 0.1 }.f(-2.0_f64), -0.2);
        assert_eq!(Tanh.df(0.0_f64, 0.0), 1.0);
        assert_eq!(Identity.f(-3.5_f32), -3.5);
    }
}
