//! A [`History`] as CSV or JSON, in memory or written to a file.
//!
//! Apart from `history.rs` so that the history itself imports nothing of the crate: errors can
//! carry one ([`Error::Diverged`](crate::Error::Diverged)) without an import loop.

use super::History;
use crate::Result;
use std::path::Path;

impl History {
    /// The history as CSV: a header line, then one line per epoch
    /// (`epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds`; validation columns
    /// empty without validation data).
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n");
        let opt = |v: &[f64], i: usize| v.get(i).map(|x| x.to_string()).unwrap_or_default();
        for (i, loss) in self.loss.iter().enumerate() {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                // Numbered from 1, in u128: the public `first_epoch` may be usize::MAX.
                self.first_epoch as u128 + i as u128 + 1,
                loss,
                opt(&self.accuracy, i),
                opt(&self.val_loss, i),
                opt(&self.val_accuracy, i),
                opt(&self.learning_rate, i),
                opt(&self.seconds, i),
            ));
        }
        csv
    }

    /// The [diagnostics](History::diagnostics) as CSV, one line per number, in long form (what
    /// spreadsheet pivots and `pandas.pivot_table` read):
    /// `epoch,path,kind,statistic,value`. Layers give `mean`, `std`, and `saturated` or `dead`
    /// where they apply, with their kind (`dense`, `relu`, ...); parameters give `grad_norm`,
    /// `weight_norm`, `update_norm` and `update_ratio` (absent when the weight is 0), with kind
    /// `param`. Epochs are numbered from 1. Only the header without diagnostics.
    pub fn diagnostics_csv(&self) -> String {
        let mut csv = String::from("epoch,path,kind,statistic,value\n");
        for d in &self.diagnostics {
            let mut line = |path: &str, kind: &str, statistic: &str, value: Option<f64>| {
                if let Some(v) = value {
                    csv.push_str(&format!("{},{path},{kind},{statistic},{v}\n", d.epoch as u128 + 1));
                }
            };
            for l in &d.layers {
                line(&l.path, &l.kind, "mean", Some(l.mean));
                line(&l.path, &l.kind, "std", Some(l.std));
                line(&l.path, &l.kind, "saturated", l.saturated);
                line(&l.path, &l.kind, "dead", l.dead);
            }
            for p in &d.params {
                line(&p.path, "param", "grad_norm", Some(p.grad_norm));
                line(&p.path, "param", "weight_norm", Some(p.weight_norm));
                line(&p.path, "param", "update_norm", Some(p.update_norm));
                line(&p.path, "param", "update_ratio", p.update_ratio);
            }
        }
        csv
    }

    /// The layers' activation histograms of the [diagnostics](History::diagnostics) as CSV, one
    /// line per bin: `epoch,path,low,high,count` (the bin is `[low, high)`, the last one closed;
    /// values outside a fixed range are not listed). Only the header without histograms.
    pub fn histograms_csv(&self) -> String {
        let mut csv = String::from("epoch,path,low,high,count\n");
        for d in &self.diagnostics {
            for l in &d.layers {
                let Some(h) = &l.histogram else { continue };
                let width = h.bin_width();
                for (k, count) in h.counts.iter().enumerate() {
                    let low = h.low + k as f64 * width;
                    let high = if k + 1 == h.counts.len() { h.high } else { low + width };
                    csv.push_str(&format!("{},{},{low},{high},{count}\n", d.epoch + 1, l.path));
                }
            }
        }
        csv
    }

    /// Writes [`diagnostics_csv`](History::diagnostics_csv) to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if the file cannot be written; an existing file is then intact.
    pub fn write_diagnostics_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::file::write_atomically(path.as_ref(), self.diagnostics_csv().as_bytes())
    }

    /// Writes [`histograms_csv`](History::histograms_csv) to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if the file cannot be written; an existing file is then intact.
    pub fn write_histograms_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::file::write_atomically(path.as_ref(), self.histograms_csv().as_bytes())
    }

    /// The history as JSON (feature `serde`): an object with every field of `History`, the
    /// lists one entry per epoch, e.g. `{"loss":[0.7,0.5],"accuracy":[0.5,0.75],...,
    /// "first_epoch":0}`. [`write_json`](History::write_json) writes it beside the CSV.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) if a value is not finite (JSON has
    /// no NaN).
    ///
    /// # Example
    /// ```
    /// # use backprop::prelude::*;
    /// # use nalgebra::DMatrix;
    /// let x = DMatrix::from_row_slice(2, 1, &[0.0, 1.0]);
    /// let mut net = Sequential::<f64>::builder(1).add(Dense::new(1, 1)).add(Sigmoid).build(0)?;
    /// let history = net.fit(&x, &x, &mut FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(3))?;
    /// let json = history.to_json()?;
    /// let back: History = serde_json::from_str(&json).unwrap();
    /// assert_eq!(back, history);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn to_json(&self) -> Result<String> {
        let lists = [
            ("loss", &self.loss),
            ("accuracy", &self.accuracy),
            ("val_loss", &self.val_loss),
            ("val_accuracy", &self.val_accuracy),
            ("learning_rate", &self.learning_rate),
            ("seconds", &self.seconds),
        ];
        let not_finite = |value: String| crate::Error::InvalidConfig {
            name: "history",
            value,
            expected: "finite numbers (JSON has no NaN or infinity)",
        };
        for (name, values) in lists {
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(not_finite(format!("{name} {v} at epoch {}", self.first_epoch as u128 + i as u128 + 1)));
            }
        }
        // The diagnostics' numbers too: serde_json writes a NaN as `null`, which it cannot read
        // back as a number (and which an absent optional number also writes).
        for d in &self.diagnostics {
            let layers = d.layers.iter().flat_map(|l| {
                let range = l.histogram.as_ref().map(|h| [("histogram low", h.low), ("histogram high", h.high)]);
                [("mean", Some(l.mean)), ("std", Some(l.std)), ("saturated", l.saturated), ("dead", l.dead)]
                    .into_iter()
                    .filter_map(|(what, v)| v.map(|v| (what, v)))
                    .chain(range.into_iter().flatten())
                    .map(move |(what, v)| (&l.path, what, v))
            });
            let params = d.params.iter().flat_map(|p| {
                [("grad_norm", Some(p.grad_norm)), ("weight_norm", Some(p.weight_norm))]
                    .into_iter()
                    .chain([("update_norm", Some(p.update_norm)), ("update_ratio", p.update_ratio)])
                    .filter_map(|(what, v)| v.map(|v| (what, v)))
                    .map(move |(what, v)| (&p.path, what, v))
            });
            if let Some((path, what, v)) = layers.chain(params).find(|(_, _, v)| !v.is_finite()) {
                let epoch = d.epoch as u128 + 1;
                return Err(not_finite(format!("diagnostics {what} {v} of {path} at epoch {epoch}")));
            }
        }
        serde_json::to_string(self).map_err(|e| crate::Error::InvalidConfig {
            name: "history",
            value: e.to_string(),
            expected: "a history serde_json can write",
        })
    }

    /// Writes [`to_json`](History::to_json) to `path`, atomically (feature `serde`).
    ///
    /// # Errors
    /// As [`to_json`](History::to_json); [`Error::Io`](crate::Error::Io) if the file cannot be
    /// written.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::file::write_atomically(path.as_ref(), self.to_json()?.as_bytes())
    }

    /// Writes [`to_csv`](History::to_csv) to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if the file cannot be written; an existing file is then intact.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::file::write_atomically(path.as_ref(), self.to_csv().as_bytes())
    }
}
