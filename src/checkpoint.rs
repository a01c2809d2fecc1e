//! Checkpoints: the network, the optimizer's state and the epoch in one file, to resume training.
//!
//! # The file
//! A model file as [`Sequential::save`] writes it (see [`io`](crate::io)) — the network's
//! tensors under their usual names and the architecture in the metadata — plus:
//! - the optimizer's [state](crate::Optimizer::state), each matrix under `"optimizer.<name>"`,
//!   where a per-parameter buffer is named by its parameter's path (`"optimizer.0.weight.m"`,
//!   `"optimizer.3.body.1.bias.velocity"`) and a counter by its own name
//!   (`"optimizer.steps"`), of the network's scalar type. (Format version 1 named buffers by the
//!   parameter's position, `"optimizer.0.m"`; such checkpoints still load.)
//! - the metadata entries `checkpoint.epoch` (the number of epochs done, which is the epoch to
//!   resume from) and `checkpoint.optimizer` (the optimizer's [name](crate::Optimizer::name)).
//!
//! Hyperparameters, the learning rate included, are not stored: they come from the
//! [`FitConfig`] built in code, so a learning-rate schedule picks up where it was.
//!
//! # Resuming
//! Build the same network and the same [`FitConfig`] as the interrupted run, load the
//! checkpoint into them, and go on with [`FitConfig::start_epoch`]; the parameters then end
//! bit-for-bit as those of an uninterrupted run (see [Resuming](FitConfig#resuming)).
//!
//! The example below stops its first run with a shorter `.epochs(5)`, which is the same run
//! only because its learning rate is constant. A [schedule](crate::Schedule) that looks at the
//! total (cosine) computes other rates for 5 epochs than for 10: to interrupt such a run, keep
//! its `epochs` and stop it from the [callback](FitConfig::on_epoch) with
//! [`Control::Stop`](crate::Control::Stop).
//!
//! ```
//! use backprop::prelude::*;
//! use nalgebra::DMatrix;
//! # fn main() -> Result<(), backprop::Error> {
//! let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
//! let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
//! let network = || Sequential::<f64>::builder(2).add(Dense::new(2, 3)).add(Tanh).add(Dense::new(3, 1)).build(1);
//! let config = || -> Result<FitConfig<f64>, Error> {
//!     Ok(FitConfig::new(SquaredError::half_sum(), Adam::new(0.05)).epochs(10).batch_size(2).seed(3))
//! };
//!
//! // Five epochs, then a checkpoint.
//! let path = std::env::temp_dir().join("backprop-doc-checkpoint.safetensors");
//! let (mut net, mut fit) = (network()?, config()?.epochs(5));
//! net.fit(&x, &t, &mut fit)?;
//! net.save_checkpoint(&path, &fit, 5)?;
//!
//! // Later: the same network and configuration, the checkpoint, epochs 5 to 9.
//! let (mut resumed, mut fit) = (network()?, config()?);
//! let epoch = resumed.load_checkpoint(&path, &mut fit)?;
//! let history = resumed.fit(&x, &t, &mut fit.start_epoch(epoch))?;
//! assert_eq!(history.epochs(), 5);
//!
//! // The same as ten epochs in one go.
//! let mut straight = network()?;
//! straight.fit(&x, &t, &mut config()?)?;
//! assert_eq!(resumed.params(), straight.params());
//! # Ok(())
//! # }
//! ```

use crate::file::write_atomically;
use crate::io::{
    assign_network_tensors, bad_metadata, check_header, layer_entries, parse, read_matrix, read_network_tensors,
    serialize, Tensor,
};
use crate::tensor_file::read_bounded;
use crate::{Error, FitConfig, FormatError, Network, Real, Result, Sequential};
use nalgebra::DMatrix;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The metadata entry holding the number of epochs done.
use crate::io::CHECKPOINT_EPOCH as EPOCH;
/// The prefix of the optimizer state's tensor names.
use crate::io::OPTIMIZER_PREFIX as PREFIX;
/// The metadata entry holding the optimizer's name.
const OPTIMIZER: &str = "checkpoint.optimizer";

/// The optimizer's name for a state tensor of the file (`"<parameter index>.<slot>"` or a
/// counter's name), from the file's name after the prefix: `"<parameter path>.<slot>"` since
/// format version 2, the optimizer's own name in version 1.
/// A name that does not start with a layer's index (`"lr.scale"`, `"ema_1.0"`) is a counter's
/// own, dots and all; `None` for one that does but names no parameter of the network. The slot
/// may hold dots too (`"0.weight.ema.fast"`): the longest parameter path the name starts with
/// is the parameter's.
fn optimizer_name(file_name: &str, paths: &[String], version: &str) -> Option<String> {
    let first = file_name.split('.').next().unwrap_or_default();
    let own = !first.is_empty() && !first.bytes().all(|b| b.is_ascii_digit());
    if version == "1" || !file_name.contains('.') || own {
        return Some(file_name.to_string());
    }
    let slot_after = |path: &str| file_name.strip_prefix(path)?.strip_prefix('.').filter(|slot| !slot.is_empty());
    let (i, slot) = paths
        .iter()
        .enumerate()
        .filter_map(|(i, path)| Some((i, slot_after(path)?)))
        .min_by_key(|(_, slot)| slot.len())?;
    Some(format!("{i}.{slot}"))
}

/// The parameter index and the slot of a per-parameter state name, `"<index>.<slot>"`.
fn parameter_slot(name: &str) -> Option<(usize, &str)> {
    let (index, slot) = name.split_once('.')?;
    let i: usize = index.parse().ok()?;
    (i.to_string() == index).then_some((i, slot))
}

impl<T: Real> Sequential<T> {
    /// The network, the optimizer state of `config` and `epoch`, the number of epochs done, as
    /// the bytes of a checkpoint file (see the [module docs](crate::checkpoint)).
    ///
    /// # Errors
    /// As [`to_bytes`](Sequential::to_bytes); [`Error::InvalidConfig`] if the optimizer's state
    /// names a matrix twice.
    pub fn checkpoint_to_bytes(&self, config: &FitConfig<T>, epoch: usize) -> Result<Vec<u8>> {
        let (mut metadata, mut tensors) = self.file_parts()?;
        metadata.insert(EPOCH.to_string(), epoch.to_string());
        metadata.insert(OPTIMIZER.to_string(), config.optimizer().name().to_string());
        let first = tensors.len();
        let paths: Vec<String> = self.named_params().into_iter().map(|(path, _)| path).collect();
        for (name, m) in config.optimizer().state() {
            // Per-parameter state is saved under the parameter's path, as the network's tensors.
            let name = match parameter_slot(&name).and_then(|(i, slot)| Some((paths.get(i)?, slot))) {
                Some((path, slot)) => format!("{PREFIX}{path}.{slot}"),
                None => format!("{PREFIX}{name}"),
            };
            if tensors.iter().skip(first).any(|(n, _)| *n == name) {
                return Err(Error::InvalidConfig {
                    name: "optimizer state name",
                    value: name,
                    expected: "unique names in the optimizer's state",
                });
            }
            tensors.push((name, Tensor::of(&m)));
        }
        serialize(tensors, metadata)
    }

    /// Saves a checkpoint to `path`: the network, the optimizer state of `config` and `epoch`,
    /// the number of epochs done (the epoch to resume from). The write is atomic, as
    /// [`save`](Sequential::save)'s.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written (an existing file is then intact); as
    /// [`checkpoint_to_bytes`](Sequential::checkpoint_to_bytes).
    pub fn save_checkpoint(&self, path: impl AsRef<Path>, config: &FitConfig<T>, epoch: usize) -> Result<()> {
        write_atomically(path.as_ref(), &self.checkpoint_to_bytes(config, epoch)?)
    }

    /// Loads a checkpoint's bytes into this network and the optimizer of `config`, both built in
    /// code as they were for the run that saved it; returns the epoch to resume from (pass it
    /// to [`FitConfig::start_epoch`]).
    ///
    /// Everything is checked before anything is written, so on error the network and the
    /// optimizer are unchanged: the optimizer's name; every network tensor, as
    /// [`load_weights_from_bytes`](Sequential::load_weights_from_bytes) does; every layer's
    /// description in the metadata (so that, say, `Tanh` in place of `Relu` is refused); the
    /// optimizer state's tensors (type, finite values, a tensor `"optimizer.<i>.<slot>"` for
    /// every parameter `i` and the shape of that parameter) and the state itself, as
    /// [`Optimizer::set_state`](crate::Optimizer::set_state) does. The optimizer's
    /// hyperparameters and learning rate stay those of `config`.
    ///
    /// # Errors
    /// [`Error::Format`]: not safetensors; not a checkpoint (metadata missing); another optimizer
    /// (`checkpoint.optimizer` names it); a network tensor missing, extra, of another type or
    /// shape (naming the tensor) or not finite; a layer described otherwise; an optimizer
    /// tensor of the wrong shape or missing. [`Error::OptimizerState`] if the
    /// optimizer refuses the state.
    pub fn load_checkpoint_from_bytes(&mut self, bytes: &[u8], config: &mut FitConfig<T>) -> Result<usize> {
        let file = parse(bytes)?;
        let empty = HashMap::new();
        let meta = file.metadata().unwrap_or(&empty);
        let get = |key: &'static str| {
            meta.get(key).map(String::as_str).ok_or(Error::Format(FormatError::MissingMetadata { key }))
        };
        check_header::<T>(meta)?;
        let version = get("format_version")?;
        let optimizer = get(OPTIMIZER)?;
        if optimizer != config.optimizer().name() {
            return Err(bad_metadata(OPTIMIZER, optimizer, "the name of the FitConfig's optimizer"));
        }
        let epoch: usize =
            get(EPOCH)?.parse().map_err(|_| bad_metadata(EPOCH, get(EPOCH).unwrap_or_default(), "a count"))?;

        // The network: tensors first (errors name the tensor), then the layers' descriptions.
        let values = read_network_tensors(self, &file, &|name| name.starts_with(PREFIX))?;
        if get("layers")? != self.len().to_string() {
            return Err(bad_metadata("layers", get("layers")?, "the number of the network's layers"));
        }
        let entries = layer_entries(self.chain())?;
        for (key, text) in &entries {
            let found = meta.get(key).map(String::as_str).unwrap_or_default();
            if found != text {
                return Err(bad_metadata(key, found, "the description of the network's layer at this path"));
            }
        }
        if meta.keys().filter(|k| k.starts_with("layer.")).count() != entries.len() {
            return Err(bad_metadata("layers", get("layers")?, "one layer.<path> entry per layer of the network"));
        }

        // The optimizer state: per-parameter tensors shaped like their parameter, for every one.
        let (paths, shapes): (Vec<String>, Vec<(usize, usize)>) =
            self.named_params().into_iter().map(|(path, p)| (path, p.value().shape())).unzip();
        let mut names = Vec::new();
        for full in file.names() {
            if let Some(name) = full.strip_prefix(PREFIX) {
                let name = optimizer_name(name, &paths, version)
                    .ok_or_else(|| Error::Format(FormatError::UnexpectedTensor { name: full.to_string() }))?;
                names.push((name, full));
            }
        }
        names.sort_unstable();
        let mut state: Vec<(String, DMatrix<T>)> = Vec::with_capacity(names.len());
        let mut slots = BTreeSet::new();
        for (name, full) in names {
            let full = full.to_string();
            let shape = match parameter_slot(&name) {
                Some((i, slot)) => {
                    let shape = shapes.get(i).copied();
                    if shape.is_none() {
                        return Err(Error::Format(FormatError::UnexpectedTensor { name: full }));
                    }
                    slots.insert(slot.to_string());
                    shape
                }
                None => None,
            };
            state.push((name.clone(), read_matrix(&file, &full, shape)?));
        }
        for slot in slots {
            for (i, path) in paths.iter().enumerate() {
                let name = format!("{i}.{slot}");
                if !state.iter().any(|(n, _)| *n == name) {
                    let saved = if version == "1" { name } else { format!("{path}.{slot}") };
                    return Err(Error::Format(FormatError::MissingTensor { name: format!("{PREFIX}{saved}") }));
                }
            }
        }

        // Only the optimizer can still refuse; it changes nothing when it does.
        config.optimizer_mut().set_state(state)?;
        assign_network_tensors(self, values);
        Ok(epoch)
    }

    /// Loads a checkpoint saved with [`save_checkpoint`](Sequential::save_checkpoint) into this
    /// network and the optimizer of `config`; returns the epoch to resume from (see
    /// [`load_checkpoint_from_bytes`](Sequential::load_checkpoint_from_bytes)). On error the
    /// network and the optimizer are unchanged.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; as `load_checkpoint_from_bytes`.
    pub fn load_checkpoint(&mut self, path: impl AsRef<Path>, config: &mut FitConfig<T>) -> Result<usize> {
        self.load_checkpoint_from_bytes(&read_bounded(path.as_ref())?, config)
    }
}

#[cfg(test)]
mod tests {
    use super::parameter_slot;

    #[test]
    fn parameter_slots_parse_only_canonical_indices() {
        assert_eq!(parameter_slot("0.m"), Some((0, "m")));
        assert_eq!(parameter_slot("12.velocity"), Some((12, "velocity")));
        assert_eq!(parameter_slot("steps"), None);
        assert_eq!(parameter_slot("01.m"), None);
        assert_eq!(parameter_slot("+1.m"), None);
        assert_eq!(parameter_slot("99999999999999999999999.m"), None);
    }
}
