//! A residual block: a body plus a shortcut, `y = F(x) + S(x)`.

use super::{ensure_shape, Layer, LayerConfig, Shape};
use crate::{Error, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;
use std::fmt::Display;

pub(crate) const KIND: &str = "residual";

/// A residual block (He et al. 2016, <https://arxiv.org/abs/1512.03385>; *Deep Learning from
/// Scratch* §8.1.3): the output of a body `F` plus a shortcut `S` of the same input,
/// `y = F(x) + S(x)`.
///
/// The shortcut is the identity ([`Residual::identity`], `S(x) = x`) or a projection layer
/// ([`Residual::projection`]) where `F` changes the shape — a [`Dense`](crate::Dense) for flat
/// samples (a 1×1 convolution once there is one). ResNet's ReLU after the sum is the next layer
/// of the network, not part of the block.
///
/// # Formulas
/// - forward: `y = F(x) + S(x)`
/// - backward: both paths get `g = ∂E/∂y`; `∂E/∂x = F'ᵀ(g) + S'ᵀ(g)` (for the identity,
///   `F'ᵀ(g) + g`): the gradient flows through the shortcut undiminished, which is why deep
///   residual networks train.
///
/// # Shapes
/// `x: batch × input`, `y: batch × output`, where `F` and `S` give samples of the same shape
/// (checked when built: [`Error::BranchMismatch`] otherwise; the identity gives the input's).
///
/// # Children
/// `body` and, for a projection, `shortcut`: the body's first weight in a network's layer 3 is
/// `3.body.0.weight`, the projection's `3.shortcut.weight`.
///
/// # Example
/// ```
/// use backprop::prelude::*;
///
/// // 4 features in, 8 out: the shortcut projects x to 8 features.
/// let body = Chain::new().add(Dense::new(4, 8)).add(Relu).add(Dense::new(8, 8));
/// let block = Residual::projection(body, Dense::new(4, 8).without_bias());
/// let net = Sequential::<f64>::builder(4).add(block).add(Relu).build(0)?;
/// assert_eq!(net.output_width(), 8);
/// assert!(net.param("0.shortcut.weight").is_some());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug)]
pub struct Residual<T: Real> {
    body: Box<dyn Layer<T>>,
    shortcut: Option<Box<dyn Layer<T>>>,
    /// `F(x)` of the last training pass (the body's backward needs its own output).
    body_out: DMatrix<T>,
    /// `S(x)` of the last training pass, for a projection.
    shortcut_out: DMatrix<T>,
    /// The projection's `∂E/∂x`, before it is added to the body's.
    shortcut_grad: DMatrix<T>,
    /// The output shape, once built.
    output: Option<Shape>,
}

impl<T: Real> Residual<T> {
    /// The output shape, once built.
    pub(crate) fn output(&self) -> Option<Shape> {
        self.output
    }

    /// `y = F(x) + x`, with `F` = `body`.
    pub fn identity(body: impl Layer<T>) -> Self {
        Self::new(Box::new(body), None)
    }

    /// `y = F(x) + S(x)`, with `F` = `body` and `S` = `shortcut` (a projection).
    pub fn projection(body: impl Layer<T>, shortcut: impl Layer<T>) -> Self {
        Self::new(Box::new(body), Some(Box::new(shortcut)))
    }

    /// A block of boxed layers; `shortcut` `None` is the identity.
    pub fn new(body: Box<dyn Layer<T>>, shortcut: Option<Box<dyn Layer<T>>>) -> Self {
        Residual {
            body,
            shortcut,
            body_out: DMatrix::zeros(0, 0),
            shortcut_out: DMatrix::zeros(0, 0),
            shortcut_grad: DMatrix::zeros(0, 0),
            output: None,
        }
    }

    /// The body `F`.
    pub fn body(&self) -> &dyn Layer<T> {
        self.body.as_ref()
    }

    /// The projection `S`, or `None` for the identity.
    pub fn shortcut(&self) -> Option<&dyn Layer<T>> {
        self.shortcut.as_deref()
    }

    fn check_built(&self) -> Result<()> {
        match self.output {
            Some(_) => Ok(()),
            None => Err(Error::NotBuilt { layer: LayerId::kind(KIND) }),
        }
    }
}

/// `y += s`, element by element (same shapes).
fn add_into<T: Real>(y: &mut DMatrix<T>, s: &DMatrix<T>) {
    for (yi, &si) in y.as_mut_slice().iter_mut().zip(s.as_slice()) {
        *yi += si;
    }
}

impl<T: Real> Layer<T> for Residual<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        let shortcut = match &self.shortcut {
            Some(s) => Some(s.clone_box()?),
            None => None,
        };
        Some(Box::new(Residual {
            body: self.body.clone_box()?,
            shortcut,
            body_out: DMatrix::zeros(0, 0),
            shortcut_out: DMatrix::zeros(0, 0),
            shortcut_grad: DMatrix::zeros(0, 0),
            output: self.output,
        }))
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        self.output = None;
        let body = self.body.build(input, rng).map_err(|e| e.within("body"))?;
        let shortcut = match &mut self.shortcut {
            Some(s) => s.build(input, rng).map_err(|e| e.within("shortcut"))?,
            None => input,
        };
        if body != shortcut {
            return Err(Error::BranchMismatch { layer: LayerId::kind(KIND), body, shortcut });
        }
        self.output = Some(body);
        Ok(body)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        self.check_built()?;
        self.body.forward(x, y).map_err(|e| e.within("body"))?;
        match &self.shortcut {
            Some(s) => {
                let mut out = DMatrix::zeros(0, 0);
                s.forward(x, &mut out).map_err(|e| e.within("shortcut"))?;
                add_into(y, &out);
            }
            None => add_into(y, x),
        }
        Ok(())
    }

    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, rng: &mut SeededRng) -> Result<()> {
        self.check_built()?;
        self.body.forward_train(x, &mut self.body_out, rng).map_err(|e| e.within("body"))?;
        ensure_shape(y, self.body_out.nrows(), self.body_out.ncols());
        y.copy_from(&self.body_out);
        match &mut self.shortcut {
            Some(s) => {
                s.forward_train(x, &mut self.shortcut_out, rng).map_err(|e| e.within("shortcut"))?;
                add_into(y, &self.shortcut_out);
            }
            None => add_into(y, x),
        }
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        _y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        mut grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        self.check_built()?;
        self.body.backward(x, &self.body_out, grad_y, grad_x.as_deref_mut()).map_err(|e| e.within("body"))?;
        match &mut self.shortcut {
            Some(s) => {
                let grad_s = grad_x.is_some().then_some(&mut self.shortcut_grad);
                s.backward(x, &self.shortcut_out, grad_y, grad_s).map_err(|e| e.within("shortcut"))?;
                if let Some(dx) = grad_x {
                    add_into(dx, &self.shortcut_grad);
                }
            }
            None => {
                if let Some(dx) = grad_x {
                    add_into(dx, grad_y);
                }
            }
        }
        Ok(())
    }

    fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<T>)) {
        f(&"body", self.body.as_ref());
        if let Some(s) = &self.shortcut {
            f(&"shortcut", s.as_ref());
        }
    }

    fn visit_children_mut<'a>(&'a mut self, f: &mut dyn FnMut(&dyn Display, &'a mut dyn Layer<T>)) {
        f(&"body", self.body.as_mut());
        if let Some(s) = &mut self.shortcut {
            f(&"shortcut", s.as_mut());
        }
    }

    fn visit_outputs<'a>(
        &'a self,
        _y: &'a DMatrix<T>,
        f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<T>, &'a DMatrix<T>),
    ) {
        f(&"body", self.body.as_ref(), &self.body_out);
        if let Some(s) = &self.shortcut {
            f(&"shortcut", s.as_ref(), &self.shortcut_out);
        }
    }

    fn is_smooth(&self) -> bool {
        self.body.is_smooth() && self.shortcut.as_ref().is_none_or(|s| s.is_smooth())
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(KIND).with("shortcut", if self.shortcut.is_some() { "projection" } else { "identity" })
    }
}
