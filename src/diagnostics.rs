//! Seeing inside training: per-layer statistics of the activations, per-parameter gradient
//! norms and update sizes, and activation histograms, taken during [`fit`](crate::Network::fit)
//! and kept in [`History::diagnostics`](crate::History::diagnostics).
//!
//! Switch them on with [`FitConfig::diagnostics`](crate::FitConfig::diagnostics) and a
//! [`Diagnostics`] saying which epochs and which batch to measure; off (the default), training
//! runs exactly the code it runs without them. A measured batch is looked at between its
//! backward pass and its optimizer step, the only moment when activations, gradients and the
//! weights before the update all exist:
//! - every layer, by its path (`"1.body.0"`), through [`Layer::visit_outputs`](crate::Layer::visit_outputs):
//!   the output's mean and standard deviation, the share of saturated (sigmoid, tanh) or dead
//!   (ReLU) units, and optionally a histogram ([`LayerStats`]);
//! - every parameter, by its path (`"1.body.0.weight"`): the gradient's norm, the weight's norm,
//!   and the norm of the step's update relative to the weight's ([`ParamStats`]).
//!
//! [`activations`] takes the layer statistics of any input without training (the book's
//! histograms of a network on random input), and the `plot` feature draws both
//! (`plot::diagnostics_svg`, `plot::histograms_svg`).
//!
//! # Example
//! ```
//! use backprop::diagnostics::Diagnostics;
//! use backprop::prelude::*;
//! use nalgebra::DMatrix;
//!
//! let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
//! let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
//! let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 3)).add(Sigmoid).add(Dense::new(3, 1)).add(Sigmoid).build(0)?;
//! let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5))
//!     .epochs(10)
//!     .diagnostics(Diagnostics::every_epoch().histograms(20));
//! let history = net.fit(&x, &t, &mut config)?;
//! let first = &history.diagnostics[0];
//! let hidden = first.layer("1").expect("layer 1 is measured");
//! assert_eq!(hidden.kind, "sigmoid");
//! assert!(hidden.saturated.is_some() && hidden.dead.is_none());
//! assert!(first.param("0.weight").expect("a weight").grad_norm > 0.0);
//! println!("{}", history.diagnostics_csv());
//! # Ok::<(), backprop::Error>(())
//! ```

mod inspect;
pub(crate) mod probe;
pub(crate) mod record;
mod settings;
mod stats;

pub use inspect::activations;
pub use record::{EpochDiagnostics, Histogram, LayerStats, ParamStats};
pub use settings::Diagnostics;
pub use stats::{DEAD_KINDS, SATURATION_MARGIN};
