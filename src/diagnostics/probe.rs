//! How `fit` takes diagnostics: a [`Probe`] for the run, which wraps the optimizer of a measured
//! step ([`Watched`]) to see the gradients before the step consumes them and the update after it,
//! and is then shown every layer's output.

use super::record::{EpochDiagnostics, ParamStats};
use super::settings::Diagnostics;
use super::stats::{distance, layer_stats, norm};
use crate::{Layer, Optimizer, Param, Real, Result, WeightDecay};
use nalgebra::DMatrix;

/// The diagnostics of one `fit` run: what to measure, and the epoch being measured.
#[derive(Debug)]
pub(crate) struct Probe<T: Real> {
    settings: Diagnostics,
    /// Every parameter's path, in the optimizer's order.
    paths: Vec<String>,
    /// Each parameter's value before the measured step (kept for the next measured step).
    before: Vec<DMatrix<T>>,
    /// The measurements of the current epoch, once its measured batch has run.
    current: Option<EpochDiagnostics>,
}

impl<T: Real> Probe<T> {
    /// A probe for a network whose parameters have `paths`, in the optimizer's order.
    pub(crate) fn new(settings: &Diagnostics, paths: Vec<String>) -> Self {
        Probe { settings: settings.clone(), paths, before: Vec::new(), current: None }
    }

    /// The probe, if batch `index` of `batches` in `epoch` is to be measured.
    pub(crate) fn select(&mut self, epoch: usize, index: usize, batches: usize) -> Option<&mut Self> {
        if !self.settings.measures(epoch, index, batches) {
            return None;
        }
        self.current = Some(EpochDiagnostics { epoch, layers: Vec::new(), params: Vec::new() });
        Some(self)
    }

    /// `optimizer`, watched: its step records every parameter's statistics.
    pub(crate) fn watch<'a>(&'a mut self, optimizer: &'a mut dyn Optimizer<T>) -> Watched<'a, T> {
        Watched { inner: optimizer, probe: self }
    }

    /// Records layer `path` and its output `y` of the measured step.
    pub(crate) fn layer(&mut self, path: &str, layer: &dyn Layer<T>, y: &DMatrix<T>) {
        if let Some(current) = &mut self.current {
            if !y.is_empty() {
                current.layers.push(layer_stats(path, layer.kind(), y, self.settings.bins(), self.settings.range()));
            }
        }
    }

    /// The measurements of the epoch, if it had a measured batch.
    pub(crate) fn take(&mut self) -> Option<EpochDiagnostics> {
        self.current.take()
    }
}

/// An optimizer that does what `inner` does and records, around its step, each parameter's
/// gradient and weight norms and the norm of the update.
///
/// It forwards every method of [`Optimizer`] but `plain_descent` (see below): a method added to
/// the trait must be forwarded here too, or measured steps would run its default (the test that
/// a seeded fit trains the same weights with diagnostics on and off would then fail).
#[derive(Debug)]
pub(crate) struct Watched<'a, T: Real> {
    inner: &'a mut dyn Optimizer<T>,
    probe: &'a mut Probe<T>,
}

impl<T: Real> Optimizer<T> for Watched<'_, T> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn learning_rate(&self) -> f64 {
        self.inner.learning_rate()
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.inner.set_learning_rate(learning_rate)
    }

    fn validate(&self) -> Result<()> {
        self.inner.validate()
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let probe = &mut *self.probe;
        probe.before.resize_with(params.len(), || DMatrix::zeros(0, 0));
        let mut stats = Vec::with_capacity(params.len());
        for (i, (p, before)) in params.iter().zip(probe.before.iter_mut()).enumerate() {
            before.clone_from(p.value());
            stats.push(ParamStats {
                path: probe.paths.get(i).cloned().unwrap_or_else(|| i.to_string()),
                grad_norm: p.grad().map_or(f64::NAN, |g| norm(g.as_slice())),
                weight_norm: norm(p.value().as_slice()),
                update_norm: 0.0,
                update_ratio: None,
            });
        }
        self.inner.step(params)?;
        for ((s, p), before) in stats.iter_mut().zip(params.iter()).zip(&probe.before) {
            s.update_norm = distance(p.value().as_slice(), before.as_slice());
            s.update_ratio = (s.weight_norm > 0.0).then(|| s.update_norm / s.weight_norm);
        }
        if let Some(current) = &mut probe.current {
            current.params = stats;
        }
        Ok(())
    }

    fn checks_updates(&self) -> bool {
        self.inner.checks_updates()
    }

    // `plain_descent` is the one method not forwarded: the probe reads the gradients, so no
    // backward pass may write new values in their place (the steps' values are the same bits).

    fn weight_decay(&self) -> WeightDecay {
        self.inner.weight_decay()
    }

    fn penalty(&self, params: &[&Param<T>]) -> f64 {
        self.inner.penalty(params)
    }

    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        self.inner.state()
    }

    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        self.inner.set_state(state)
    }

    fn clone_box(&self) -> Option<Box<dyn Optimizer<T>>> {
        self.inner.clone_box()
    }
}
