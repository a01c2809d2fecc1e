//! # backprop — neural networks from scratch on nalgebra matrices
//!
//! Layers with hand-written forward and backward passes, losses, optimizers, a training loop and
//! gradient checks, in the order a first course in deep learning teaches them (the Korean course
//! "딥러닝 이해하기", which follows *Deep Learning from Scratch*).
//!
//! The course's 실습 2 — XOR with a 2-3-1 sigmoid network, no bias, weights from U(0, 1), the
//! loss E = ½ Σ (y − t)², full-batch gradient descent with learning rate 0.1 — reads:
//!
//! ```
//! use backprop::prelude::*;
//! use nalgebra::DMatrix;
//!
//! # fn main() -> Result<(), backprop::Error> {
//! let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
//! let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
//!
//! let uniform = Init::Uniform { low: 0.0, high: 1.0 };
//! let mut net = Sequential::<f64>::builder(2)
//!     .add(Dense::new(2, 3).without_bias().with_init(uniform)) // W_layer_1: 2 × 3
//!     .add(Sigmoid)
//!     .add(Dense::new(3, 1).without_bias().with_init(uniform)) // W_layer_2: 3 × 1
//!     .add(Sigmoid)
//!     .build(0)?;
//!
//! let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20_000);
//! let history = net.fit(&x, &t, &mut config)?; // history.loss is the course's Error_list
//!
//! let y = net.predict(&x)?;
//! assert!(y[0] < 0.1 && y[1] > 0.9 && y[2] > 0.9 && y[3] < 0.1);
//! assert!(history.loss[19_999] < history.loss[0]);
//! # Ok(())
//! # }
//! ```
//!
//! ## Conventions
//! - **Rows are samples.** A batch is a `DMatrix<T>` of shape `samples × features`, and a dense
//!   layer computes `X·W` with `W` of shape `in × out`, as the course writes it. (nalgebra stores
//!   matrices column by column; the crate never relies on that for meaning.) Images travel as rows
//!   too, flattened channel-first (C, H, W) — see [`Shape`].
//! - **Any scalar**: everything is generic over [`Real`], implemented for `f32` and `f64`.
//! - **No panics on user input**: every public function returns [`Result`] with [`Error`], whose
//!   message names the layer and the numbers. After an error nothing has changed.
//! - **Determinism**: the same seed gives bit-identical results ([`SeededRng`] is ChaCha8).
//!
//! ## Layers that hold layers
//! A [`Chain`] is a sequence of layers that is itself a [`Layer`]; a [`Residual`] block adds a
//! body's output to a shortcut's, `y = F(x) + S(x)`. They nest anywhere, and every parameter and
//! buffer gets a **path** — `"0.body.2.weight"` below, `"0.weight"` in a flat network — that names
//! it the same way in files ([`io`]), [`Sequential::param`], [`gradcheck`] reports, checkpoints and
//! errors. A layer written outside the crate saves like any other and loads through a
//! [`Registry`] that knows its kind.
//!
//! ```
//! use backprop::prelude::*;
//!
//! let body = Chain::new().add(Dense::new(8, 8)).add(Tanh).add(Dense::new(8, 8));
//! let net = Sequential::<f64>::builder(8).add(Residual::identity(body)).add(Dense::new(8, 2)).build(0)?;
//! let paths: Vec<String> = net.named_params().into_iter().map(|(path, _)| path).collect();
//! assert_eq!(paths, ["0.body.0.weight", "0.body.0.bias", "0.body.2.weight", "0.body.2.bias", "1.weight", "1.bias"]);
//! let copy = Sequential::<f64>::from_bytes(&net.to_bytes()?)?; // the tree is in the file
//! assert_eq!(copy.param("0.body.2.bias"), net.param("0.body.2.bias"));
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! ## Map
//! | lesson | example | API |
//! |---|---|---|
//! | matrix product; 실습 1, the bias-free step network; logic gates | `01_perceptron` | [`Step`], [`Sequential::set_param`] |
//! | XOR by backpropagation (실습 2) | `02_xor` | [`Sequential`], [`Sigmoid`], [`SquaredError`], [`Sgd`], [`Network::fit`] |
//! | one step of backpropagation by hand (1 step 학습), the chain rule | `02b_backprop_by_hand` | [`Network::gradients`], [`Gradients`] |
//! | reading and transplanting weights (실습 2-1) | `03_xor_weights` | [`Sequential::param`], [`Sequential::set_param`] |
//! | the loss curve (실습 2-2) | `04_loss_curve` | [`History`], `plot` feature |
//! | linear regression, a bad line against a fitted one | `05_linear_regression` | [`Identity`], [`Reduction::Mean`], `plot` feature |
//! | the universal function approximator | `05b_universal_approximation` | [`Adam`], `plot` feature |
//! | MLP on the 8×8 digits | `06_digits` | [`data`], [`SoftmaxCrossEntropy`], [`Dropout`], [`AdamW`] |
//! | weight initialization: activation histograms, MNIST from σ = 0.01, Xavier, He | `09_weight_init` | [`diagnostics`], [`FitConfig::diagnostics`], `plot` feature |
//! | MLP on MNIST | `07_mnist_mlp` | [`data::load_mnist`], [`FitConfig::early_stopping`], [`Schedule`] |
//! | saving and loading | `15_save_load` | [`Sequential::save`], [`Sequential::load`], [`io`], [`Registry`] |
//! | residual blocks, nesting | `tests/nesting.rs` | [`Chain`], [`Residual`], [`Sequential::layer_at`] |
//! | checking gradients | — | [`gradcheck`] |
//!
//! After training: [`Network::predict_classes`], [`Network::predict_proba`],
//! [`Network::evaluate_with`], [`Network::confusion_matrix`] ([`ConfusionMatrix`]),
//! [`top_k_accuracy`], [`Sequential::summary`], [`History`]'s `Display` and
//! [`last`](History::last).
//!
//! ## Cargo features
//! All off by default.
//! - `plot`: the `plot` module, loss and accuracy curves drawn to SVG files (plotters).
//! - `progress-bar`: [`FitConfig::progress`] draws a bar per epoch on a terminal (indicatif).
//! - `serde`: `Serialize`/`Deserialize` for [`History`], [`EpochStats`], [`Init`], [`Schedule`],
//!   [`LayerConfig`] and [`FitSettings`], and `History::to_json`.
//!
//! Epochs are numbered from 1 wherever they are printed or written; indices in the API count
//! from 0 (see [`EpochStats::epoch`]).

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_code)]
// No panics on user input (issue 13): library code may not unwrap, index unchecked or panic; each
// `allow` below names why its site cannot fail. Unit tests (cfg(test)) may index and unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable, clippy::indexing_slicing)
)]
#![warn(missing_debug_implementations)]

mod activation;
mod check;
pub mod checkpoint;
pub mod data;
mod descent;
pub mod diagnostics;
mod error;
mod feed;
mod file;
mod fit;
pub mod gradcheck;
mod gradients;
mod history;
mod init;
pub mod io;
mod layer;
mod loss;
mod matmul;
#[doc(hidden)]
pub use matmul::bench_product;
mod metrics;
mod network;
pub mod optim;
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub mod plot;
mod progress;
mod real;
pub mod registry;
mod schedule;
mod sequential;
mod shape;
mod simd;
#[cfg(target_arch = "x86_64")]
mod small_k;
mod tensor_file;
pub mod threads;

/// The [`approx`](https://docs.rs/approx) crate this one compares with: a [`Real`] and a matrix of
/// them are [`AbsDiffEq`](approx::AbsDiffEq), [`RelativeEq`](approx::RelativeEq) and
/// [`UlpsEq`](approx::UlpsEq), as nalgebra's scalars and matrices are (see [`Real`]).
pub use approx;

pub use activation::{Activation, Identity, LeakyRelu, Relu, Sigmoid, Step, Tanh};
pub use data::DataError;
pub use error::{Dims, Divergence, Error, FormatError, LayerId, Result, StateMismatch};
pub use fit::{Control, FitConfig, FitSettings};
pub use gradients::Gradients;
pub use history::{EpochStats, History};
pub use init::{max_elements, seeded, set_max_elements, Init, SeededRng, Stream, MAX_ELEMENTS};
pub use layer::{
    ensure_shape, AvgPool2d, BatchNorm, BatchNormPreset, Chain, Conv2d, Decay, Dense, Dropout, DropoutScaling,
    GlobalAvgPool, Layer, LayerConfig, MaxPool2d, Param, Residual, Shape, Softmax,
};
pub use loss::{BinaryCrossEntropy, Loss, Reduction, SoftmaxCrossEntropy, SquaredError};
pub use metrics::{accuracy, argmax_row, classes, probabilities, top_k_accuracy, ConfusionMatrix, Evaluation};
pub use network::Network;
pub use optim::{AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, PlainDescent, RmsProp, Sgd, WeightDecay};
pub use real::Real;
pub use registry::Registry;
pub use schedule::Schedule;
pub use sequential::{Sequential, SequentialBuilder, Summary, SummaryRow};

// The README's code blocks are doctests: its snippet must compile and run as it stands.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Everything a training program usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        Activation, AvgPool2d, BatchNorm, BinaryCrossEntropy, Chain, Conv2d, Dense, Dropout, Error, FitConfig,
        GlobalAvgPool, History, Identity, Init, Layer, LeakyRelu, Loss, MaxPool2d, Network, Optimizer, Reduction, Relu,
        Residual, Sequential, Sgd, Shape, Sigmoid, Softmax, SoftmaxCrossEntropy, SquaredError, Step, Tanh,
    };
    pub use crate::{AdaGrad, Adam, AdamW, Control, Momentum, Nesterov, RmsProp, Schedule, WeightDecay};
}
