//! [`activations`]: the layer statistics of a network for inputs of your choosing, without
//! training.

use super::record::LayerStats;
use super::settings::Diagnostics;
use super::stats::layer_stats;
use crate::check::check_finite;
use crate::layer::walk;
use crate::{seeded, Error, Layer, Network, Real, Result, Sequential, Stream};
use nalgebra::DMatrix;

/// Every layer's [`LayerStats`] (with histograms if `settings` asks for them) for the inputs `x`
/// run through `net` as in training — what [`fit`](crate::Network::fit) records for a measured
/// batch — without changing `net`: a copy of it runs a training forward pass (dropout masks
/// drawn from [`seeded`]`(0, Stream::Train)`, batch normalization with the batch's statistics).
/// Which epochs and batch `settings` names does not matter here.
///
/// This is the book's experiment on initialization (figures 6-10 to 6-14): random inputs
/// through five layers, and each layer's histogram.
///
/// # Errors
/// [`Error::EmptyInput`], [`Error::FeatureMismatch`] and [`Error::NonFinite`] for bad inputs;
/// [`Error::NotCloneable`] for a layer that cannot be copied; the layers' errors; and
/// [`Error::InvalidConfig`] for invalid `settings`.
///
/// # Example
/// ```
/// use backprop::diagnostics::{activations, Diagnostics};
/// use backprop::prelude::*;
/// use nalgebra::DMatrix;
/// let net = Sequential::<f64>::builder(3).add(Dense::new(3, 4)).add(Relu).build(0)?;
/// let x = DMatrix::from_fn(8, 3, |i, j| (i as f64 - 3.5) * (j as f64 + 1.0));
/// let stats = activations(&net, &x, &Diagnostics::every_epoch().histograms(10))?;
/// assert_eq!(stats.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["0", "1"]);
/// assert_eq!(stats[1].histogram.as_ref().map(|h| h.total()), Some(8 * 4));
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn activations<T: Real>(net: &Sequential<T>, x: &DMatrix<T>, settings: &Diagnostics) -> Result<Vec<LayerStats>> {
    settings.validate()?;
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::EmptyInput { what: "x", got: x.into() });
    }
    if x.ncols() != net.input_width() {
        // predict reports the mismatch with the first layer's name.
        net.predict(&DMatrix::zeros(0, x.ncols()))?;
    }
    check_finite("x", x)?;
    let mut copy = net.try_clone()?;
    let mut y = DMatrix::zeros(0, 0);
    copy.chain_mut().forward_train(x, &mut y, &mut seeded(0, Stream::Train))?;
    let mut stats = Vec::new();
    walk::outputs(copy.chain() as &dyn Layer<T>, &y, &mut String::new(), &mut |path, layer, out| {
        stats.push(layer_stats(path, layer.kind(), out, settings.bins(), settings.range()));
    });
    Ok(stats)
}
