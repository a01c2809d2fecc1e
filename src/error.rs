//! The crate's one error type.

use std::fmt;

/// Which layer an error comes from: its kind and, once known, its path in a network.
///
/// A layer used on its own reports only its kind ("dense layer"); each container the error
/// passes through on its way out puts its child's name in front of the path, so a network
/// reports "layer 3.body.1 (dense)" — the path its parameters are saved under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerId {
    /// The layer's path in its network (`"2"`, `"3.body.1"`), when the layer is in one.
    pub path: Option<String>,
    /// The layer's kind, e.g. `"dense"` or `"sigmoid"`.
    pub kind: &'static str,
}

impl LayerId {
    /// A layer of this kind, path not yet known.
    pub fn kind(kind: &'static str) -> Self {
        LayerId { path: None, kind }
    }

    /// A layer of this kind at `path`.
    pub fn at(path: impl Into<String>, kind: &'static str) -> Self {
        LayerId { path: Some(path.into()), kind }
    }

    /// The path, or `""` when the layer is in no network.
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("")
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "layer {path} ({})", self.kind),
            None => write!(f, "{} layer", self.kind),
        }
    }
}

/// A matrix shape, rows × columns, as it appears in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims(pub usize, pub usize);

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.0, self.1)
    }
}

impl<T: nalgebra::Scalar> From<&nalgebra::DMatrix<T>> for Dims {
    fn from(m: &nalgebra::DMatrix<T>) -> Self {
        Dims(m.nrows(), m.ncols())
    }
}

/// Everything that can go wrong in this crate.
///
/// Every variant carries the numbers a user needs to find the problem. After any error the
/// network, the caller's data and files on disk are as they were before the call.
///
/// Each message is complete on its own and no cause is printed twice: [`Error::Io`] ends with
/// the operating system's message, [`Error::Format`] and [`Error::Data`] show their
/// [`FormatError`] or [`DataError`](crate::DataError), and none of them also returns that cause
/// from [`source`](std::error::Error::source). A report that walks the chain (anyhow's `{:#}`,
/// eyre) prints each cause once; match on the variant to reach the inner error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // === Shapes ===
    /// A layer got input with the wrong number of features (columns).
    #[error("{layer} expects input with {expected} features, got {got}")]
    FeatureMismatch {
        /// The layer that refused the input.
        layer: LayerId,
        /// Features the layer expects.
        expected: usize,
        /// Features in the input.
        got: usize,
    },
    /// A matrix handed to a layer or loss has the wrong shape.
    #[error("{layer}: {what} should be {expected}, got {got}")]
    ShapeMismatch {
        /// The layer (or loss) that refused the matrix.
        layer: LayerId,
        /// Which matrix, e.g. `"grad_output"` or `"weight"`.
        what: &'static str,
        /// The shape expected.
        expected: Dims,
        /// The shape got.
        got: Dims,
    },
    /// Two layers of a network do not fit together.
    #[error("{layer} expects {expected} input features, but the layers before it give {got}")]
    LayerChain {
        /// The layer whose input does not fit.
        layer: LayerId,
        /// Input width the layer expects.
        expected: usize,
        /// Output width of the previous layer (or the network's input width).
        got: usize,
    },
    /// The two branches of a [`Residual`](crate::Residual) block give outputs of different shapes.
    #[error("{layer}: the body gives samples of shape {body} but the shortcut gives {shortcut}; y = F(x) + S(x) needs them equal")]
    BranchMismatch {
        /// The residual block.
        layer: LayerId,
        /// Shape of the body's output sample, F(x).
        body: crate::shape::Shape,
        /// Shape of the shortcut's output sample, S(x) (the input's shape for the identity).
        shortcut: crate::shape::Shape,
    },
    /// A layer got samples of a shape it cannot take: a flat vector where it needs an image, an
    /// image with another number of channels than it was made for.
    #[error("{layer} expects samples of shape {expected}, but the layers before it give {got}")]
    InputShape {
        /// The layer whose input does not fit.
        layer: LayerId,
        /// What the layer takes, e.g. `"Cx?x? with C = 3"` or `"an image CxHxW"`.
        expected: String,
        /// The shape of the samples it got.
        got: crate::shape::Shape,
    },
    /// A sliding window (convolution kernel, pooling window) does not fit its input: larger
    /// than the padded image, or a pooling window whose padding is not smaller than it.
    #[error("{layer}: a {window} window with stride {stride} and padding {padding} does not fit a {height}x{width} input ({why})")]
    WindowMismatch {
        /// The layer.
        layer: LayerId,
        /// The window, `KHxKW`.
        window: String,
        /// The stride.
        stride: usize,
        /// The padding on each side.
        padding: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A chain inside a network holds no layers (a network without layers is
    /// [`Error::InvalidConfig`]).
    #[error("{layer} holds no layers; a chain needs at least one")]
    EmptyChain {
        /// The chain, by its path in the network.
        layer: LayerId,
    },
    /// A training batch too small for a layer: batch normalization needs at least two samples
    /// to estimate a variance.
    #[error("{layer} needs training batches of at least {min} samples, got {got}")]
    BatchTooSmall {
        /// The layer.
        layer: LayerId,
        /// The smallest batch it trains on.
        min: usize,
        /// The batch it got.
        got: usize,
    },
    /// Inputs and targets have different numbers of samples (rows; columns of
    /// [`fit_samples`](crate::Network::fit_samples)'s `xs`).
    #[error("{what}: {x_rows} samples, but the targets have {t_rows} (one row per sample)")]
    RowCountMismatch {
        /// What has `x_rows` samples: `"x"` (the inputs), `"xs"` (inputs given sample by
        /// sample), `"the predictions"`, ...
        what: &'static str,
        /// Samples of the inputs (or predictions): their rows, or the columns of `xs`.
        x_rows: usize,
        /// Rows of the targets.
        t_rows: usize,
    },
    /// Targets whose shape does not suit the network's output or the loss.
    #[error("{loss}: targets should be {expected}, got {got}")]
    TargetShapeMismatch {
        /// The loss that refused the targets.
        loss: &'static str,
        /// What was expected, in words (e.g. "4x1 or 4x3").
        expected: String,
        /// The targets' shape.
        got: Dims,
    },
    /// A loss wrote a gradient `∂E/∂y` of another shape than the predictions `y` (a loss written
    /// outside the crate).
    #[error("the {loss} loss wrote a gradient of shape {got} for predictions of shape {expected}; ∂E/∂y has the predictions' shape")]
    LossGradientShape {
        /// The loss's [name](crate::Loss::name).
        loss: &'static str,
        /// The predictions' shape.
        expected: Dims,
        /// The gradient's shape.
        got: Dims,
    },
    /// A matrix that must hold data has none.
    #[error("{what} is empty ({got}); at least one row and one column are required")]
    EmptyInput {
        /// Which matrix.
        what: &'static str,
        /// Its shape.
        got: Dims,
    },
    /// Data with another number of columns than what it is handed to was fitted or made for
    /// (e.g. a [`Standardizer`](crate::data::Standardizer) fitted on other data). Layers report
    /// [`FeatureMismatch`](Error::FeatureMismatch) instead.
    #[error("{what} expects {expected} columns, got {got}")]
    WidthMismatch {
        /// What refused the data, e.g. `"a standardizer fitted on the training data"`.
        what: &'static str,
        /// Columns expected.
        expected: usize,
        /// Columns in the data.
        got: usize,
    },
    /// Data with fewer rows (samples) than a computation on it needs, e.g. a covariance matrix
    /// from a single row (see [`Whitener`](crate::data::Whitener)).
    #[error("{what} needs at least {needed} rows (samples), got {got}")]
    TooFewRows {
        /// What needs the rows, e.g. `"data to fit a whitener on"`.
        what: &'static str,
        /// The fewest rows it accepts.
        needed: usize,
        /// Rows in the data.
        got: usize,
    },

    // === Values ===
    /// A NaN or infinity where finite numbers are required.
    #[error("{what} holds a non-finite value {} at row {row}, column {col}", number(*.value))]
    NonFinite {
        /// Which matrix, e.g. `"x"`, `"targets"`.
        what: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value.
        value: f64,
    },
    /// A class label that is not an integer in `0..classes`.
    #[error("label {} at row {row} is not a class index in 0..{classes}", number(*.label))]
    LabelOutOfRange {
        /// Row of the label.
        row: usize,
        /// The label as given.
        label: f64,
        /// Number of classes.
        classes: usize,
    },
    /// A layer that cannot be copied (its [`Layer::clone_box`](crate::Layer::clone_box) gives
    /// `None`), met while copying a network.
    #[error("{layer} cannot be copied: its clone_box gives None (implement it to copy networks holding it)")]
    NotCloneable {
        /// The layer.
        layer: LayerId,
    },
    /// An index past the end of what it indexes, e.g. a row of a matrix.
    #[error("{what} {index} is out of range: there are {len}")]
    IndexOutOfRange {
        /// What is indexed, e.g. `"row"`.
        what: &'static str,
        /// The index given.
        index: usize,
        /// How many there are (valid indices are `0..len`).
        len: usize,
    },
    /// A target value outside the range the loss accepts, e.g. a binary cross-entropy target
    /// outside [0, 1].
    #[error("{loss}: targets must be {expected}, got {} at row {row}, column {col}", number(*.value))]
    TargetOutOfRange {
        /// The loss that refused the targets.
        loss: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value.
        value: f64,
        /// What the loss accepts, e.g. `"in [0, 1]"`.
        expected: &'static str,
    },

    // === Configuration ===
    /// A hyperparameter or configuration value outside its allowed range.
    #[error("invalid {name}: expected {expected}, got {value}")]
    InvalidConfig {
        /// The parameter's name, e.g. `"learning_rate"`.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is allowed, e.g. `"> 0 and finite"`.
        expected: &'static str,
    },
    /// A size whose element count would overflow or exceed the crate's cap.
    #[error("{what} would have {rows}x{cols} elements, more than the limit of {limit}")]
    TooLarge {
        /// What was being created.
        what: &'static str,
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
        /// The most elements allowed.
        limit: usize,
    },

    // === Training ===
    /// `backward` was called without a training forward pass before it.
    #[error("{layer}: backward called before a training forward pass")]
    NoForwardCache {
        /// The layer.
        layer: LayerId,
    },
    /// A network has no parameter at this path.
    #[error("the network has no parameter {path:?} (parameters are named like \"0.weight\" or \"3.body.1.bias\")")]
    NoSuchParam {
        /// The path asked for.
        path: String,
    },
    /// A layer was used before [`Layer::build`](crate::Layer::build) gave it its parameters.
    #[error("{layer} is not built yet; build it (or the network holding it) first")]
    NotBuilt {
        /// The layer.
        layer: LayerId,
    },
    /// An optimizer step found a parameter whose gradient was not computed since the last step.
    #[error("parameter {index} ({name}) has no gradient; run backward before the optimizer step")]
    MissingGradient {
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// Its role, e.g. `"weight"`.
        name: &'static str,
    },
    /// An optimizer step found a gradient whose shape differs from its parameter's.
    #[error("parameter {index} ({name}) is {expected} but its gradient is {got}")]
    GradientShape {
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// Its role, e.g. `"weight"`.
        name: &'static str,
        /// The parameter's shape.
        expected: Dims,
        /// The gradient's shape.
        got: Dims,
    },
    /// An optimizer written outside the crate replaced a parameter (`*params[i] = Param::new(..)`)
    /// instead of changing its values: the step was undone, the parameter put back as it was.
    #[error(
        "the {optimizer} optimizer replaced parameter {index} ({name}, {expected}) with another \
         ({replacement}, {got}); an optimizer changes a parameter's values in place. The step was undone"
    )]
    ParamReplaced {
        /// The optimizer's [name](crate::Optimizer::name).
        optimizer: &'static str,
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// The parameter's role, e.g. `"weight"`.
        name: &'static str,
        /// Its shape.
        expected: Dims,
        /// The role of the parameter put in its place.
        replacement: &'static str,
        /// The shape of the parameter put in its place.
        got: Dims,
    },
    /// An optimizer's state does not fit: the parameters of a step differ from the ones it was
    /// created for, or a state to import is not one the optimizer exports.
    #[error("{optimizer} state: {mismatch}")]
    OptimizerState {
        /// The optimizer's [name](crate::Optimizer::name), e.g. `"adam"`.
        optimizer: &'static str,
        /// What does not fit.
        mismatch: StateMismatch,
    },
    /// Training produced a non-finite loss or gradient, or an update would have made a parameter
    /// or the optimizer's state non-finite, or a layer's running statistics; the update was not
    /// applied, so the parameters, the layers' buffers and the optimizer's state are those before
    /// the failed step (in a `fit` with early stopping, the
    /// parameters are the best epoch's, named by the history's `best_epoch`). The message names the likely cause
    /// (see [`Divergence::hint`]). The message numbers the epoch and the step from 1, as
    /// everything printed does; the fields count from 0.
    #[error(
        "training diverged{}{}: loss {}; {cause}{}; the update was not applied. {}",
        .epoch.map(|e| format!(" at epoch {}", e.saturating_add(1))).unwrap_or_default(),
        .step.map(|s| format!(", step {}", s.saturating_add(1))).unwrap_or_default(),
        number(*.loss),
        .parameter.as_ref().map(|p| format!(" (the parameter at `{p}`)")).unwrap_or_default(),
        .cause.hint()
    )]
    Diverged {
        /// Epoch (from 0) of the failed step, when the step was part of [`fit`](crate::Network::fit)
        /// (a lone [`train_step`](crate::Network::train_step) knows none).
        epoch: Option<usize>,
        /// The failed step's index among the run's steps (from 0), when it was part of `fit`.
        step: Option<usize>,
        /// The loss of the failed step (finite when the loss was not what failed).
        loss: f64,
        /// What was not finite, and where.
        cause: Divergence,
        /// The path of the parameter that `cause` names by its index (`"1.body.0.weight"`, as
        /// [`Network::visit_params`](crate::Network::visit_params) gives it), when the step ran
        /// in a [`Sequential`](crate::Sequential); `None` for a cause that names no parameter.
        parameter: Option<String>,
        /// What `fit` recorded before the failed step (its epochs, done in full), when the step
        /// was part of `fit`: the failed run's history is not lost.
        history: Option<Box<crate::History>>,
    },

    // === Output ===
    /// A picture (e.g. a loss curve) could not be drawn or written; the file at `path` is as it
    /// was before the call.
    #[error("cannot draw {}: {message}", .path.display())]
    Plot {
        /// The file that was to be written.
        path: std::path::PathBuf,
        /// What went wrong: the drawing library's or the file system's message.
        message: String,
    },

    // === Model files ===
    /// Reading or writing a file failed; an existing file at `path` is intact.
    ///
    /// The message ends with the operating system's; `error` is kept as a field, not returned by
    /// [`source`](std::error::Error::source), so a report walking the chain prints it once.
    #[error("cannot {action} {path}: {error}")]
    Io {
        /// What was being done: `"read"`, `"write"`, ...
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A model file that is not a valid saved network, or does not fit the network it is loaded
    /// into. The message is `model file: ` and the [`FormatError`]'s; it is not also returned by
    /// [`source`](std::error::Error::source).
    #[error("model file: {0}")]
    Format(FormatError),

    // === Data files ===
    /// A data file that is missing, damaged or does not fit its format. The message is the
    /// [`DataError`](crate::DataError)'s own, which names the file and where in it reading
    /// stopped; it is not also returned by [`source`](std::error::Error::source).
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Format(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Puts `segment` (a child's name in its container) in front of the path of the layer an
    /// error names; containers call it as the error passes out through them.
    pub(crate) fn within(mut self, segment: impl fmt::Display) -> Self {
        match &mut self {
            Error::FeatureMismatch { layer, .. }
            | Error::ShapeMismatch { layer, .. }
            | Error::LayerChain { layer, .. }
            | Error::BranchMismatch { layer, .. }
            | Error::InputShape { layer, .. }
            | Error::WindowMismatch { layer, .. }
            | Error::BatchTooSmall { layer, .. }
            | Error::EmptyChain { layer }
            | Error::NoForwardCache { layer }
            | Error::NotBuilt { layer } => {
                layer.path = Some(match layer.path.take() {
                    Some(path) => format!("{segment}.{path}"),
                    None => segment.to_string(),
                });
            }
            _ => {}
        }
        self
    }
}

/// How an optimizer's state does not fit (see [`Error::OptimizerState`]).
///
/// The first three come from a step whose parameters differ from the ones the state was created
/// for (on the first step); the others from [`Optimizer::set_state`](crate::Optimizer::set_state),
/// given something other than what [`Optimizer::state`](crate::Optimizer::state) exports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StateMismatch {
    /// The step got another number of parameters than the state is for.
    #[error("it is for {expected} parameters, but the step got {got}")]
    ParamCount {
        /// Parameters the state is for.
        expected: usize,
        /// Parameters the step got.
        got: usize,
    },
    /// A parameter of the step has another shape than the state's buffers for it.
    #[error("parameter {index} was {expected} when it was created, but the step got {got}")]
    ParamShape {
        /// Position of the parameter.
        index: usize,
        /// The shape the state is for.
        expected: Dims,
        /// The parameter's shape in this step.
        got: Dims,
    },
    /// The step's parameters hold another scalar type than the state.
    #[error("it holds {expected} numbers, but the step got {got} parameters")]
    ScalarType {
        /// The state's scalar type, e.g. `"f64"`.
        expected: &'static str,
        /// The parameters' scalar type.
        got: &'static str,
    },
    /// A tensor to import whose name is not one of the optimizer's state: another slot, a
    /// malformed index, or any tensor for an optimizer that keeps no state.
    #[error("{name:?} is not a tensor of its state")]
    UnknownTensor {
        /// The tensor's name.
        name: String,
    },
    /// A tensor the state to import needs is not there (the first one missing, in parameter
    /// order): a parameter's buffer, or the step count.
    #[error("tensor {name:?} is missing")]
    MissingTensor {
        /// The missing tensor's name, e.g. `"1.v"` or `"steps"`.
        name: String,
    },
    /// A tensor name given twice in the state to import.
    #[error("tensor {name:?} is given twice")]
    Duplicate {
        /// The tensor's name.
        name: String,
    },
    /// A value the buffer cannot hold: not finite, or negative in a sum or average of squares.
    #[error("tensor {name:?} holds {} at row {row}, column {col}, expected {expected}", number(*.value))]
    BadValue {
        /// The tensor's name.
        name: String,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value.
        value: f64,
        /// What the buffer holds, e.g. `"finite values >= 0"`.
        expected: &'static str,
    },
    /// Two buffers of one parameter with different shapes (a parameter's buffers all have its
    /// shape).
    #[error("tensor {name:?} of shape {got} but {reference:?} of shape {expected}, for the same parameter")]
    BufferShape {
        /// The tensor whose shape differs.
        name: String,
        /// Its shape.
        got: Dims,
        /// The parameter's first buffer, whose shape the others must have.
        reference: String,
        /// That buffer's shape.
        expected: Dims,
    },
    /// A counter (Adam's `"steps"`) that is not a 1×1 matrix holding a non-negative integer.
    #[error("counter {name:?} of shape {shape} holds {}, expected a 1x1 non-negative integer", number(*.value))]
    BadCounter {
        /// The counter's name.
        name: &'static str,
        /// The tensor's shape.
        shape: Dims,
        /// Its first value (NaN if it has none).
        value: f64,
    },
}

/// What is wrong with a model file (see [`Error::Format`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes are not a valid safetensors file (truncated, bad header, bad offsets, ...).
    #[error("not a valid safetensors file: {0}")]
    Safetensors(String),
    /// A tensor's entry in the header cannot be right: its type and shape do not fill its byte
    /// range exactly, or the range ends before it starts.
    #[error("tensor {name:?} in the file's header: {problem}")]
    TensorEntry {
        /// The tensor's name (cut to 80 characters).
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The header names a tensor twice.
    #[error("the file's header names tensor {name:?} twice")]
    DuplicateTensor {
        /// The tensor's name (cut to 80 characters).
        name: String,
    },
    /// A metadata entry the format requires is missing.
    #[error("metadata entry {key:?} is missing; was the file saved by backprop?")]
    MissingMetadata {
        /// The key.
        key: &'static str,
    },
    /// A metadata entry has a value that cannot be right.
    #[error("metadata entry {key:?} is {value:?}, expected {expected}")]
    BadMetadata {
        /// The key.
        key: String,
        /// The value found (cut to 80 characters).
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The file describes a layer kind the registry it is loaded with does not know.
    #[error(
        "layer {path} has unknown kind {kind:?}; a layer of your own loads through a Registry that knows it \
         (Registry::register, then Sequential::load_with)"
    )]
    UnknownLayer {
        /// The layer's path, e.g. `"3.body.1"`.
        path: String,
        /// The kind found.
        kind: String,
    },
    /// The file's layers are nested deeper than loaders accept.
    #[error("layer {path} is nested deeper than {limit} levels")]
    TooDeep {
        /// The path of the first layer too deep.
        path: String,
        /// The most levels of nesting accepted ([`MAX_DEPTH`](crate::registry::MAX_DEPTH)).
        limit: usize,
    },
    /// The file holds another scalar type than asked for.
    #[error("{}", wrong_dtype(.tensor, .got, .expected))]
    WrongDtype {
        /// The tensor (or `"file"` for the file's declared type).
        tensor: String,
        /// The type asked for.
        expected: &'static str,
        /// The type found.
        got: String,
    },
    /// The network has a tensor the file lacks.
    #[error("tensor {name:?} is missing from the file")]
    MissingTensor {
        /// The tensor's name, e.g. `"0.weight"`.
        name: String,
    },
    /// The file has a tensor the network has no place for.
    #[error("tensor {name:?} in the file has no place in the network")]
    UnexpectedTensor {
        /// The tensor's name.
        name: String,
    },
    /// A tensor's shape differs from the network's.
    #[error("tensor {name:?} has shape {got:?} in the file, the network needs {expected:?}")]
    TensorShape {
        /// The tensor's name.
        name: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// The architecture declares more (or fewer) numbers than the file stores.
    #[error("the architecture needs {declared} numbers but the file stores {stored}")]
    SizeMismatch {
        /// Numbers the declared layers need (saturating at `usize::MAX`).
        declared: usize,
        /// Numbers the file's tensors hold.
        stored: usize,
    },
    /// A stored number is NaN or infinite.
    #[error("tensor {name:?} holds a non-finite value {} at row {row}, column {col}", number(*.value))]
    NonFinite {
        /// The tensor's name.
        name: String,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value.
        value: f64,
    },
}

/// What made a training step diverge (in [`Error::Diverged`]): which value was not finite, and
/// the likely cause. `index` and `name` are the parameter's position in the optimizer's order and
/// its role (`"weight"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Divergence {
    /// The batch's loss was not finite.
    Loss,
    /// A gradient was not finite, or its square overflowed in the optimizer.
    Gradient {
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// Its role, e.g. `"weight"`.
        name: &'static str,
    },
    /// The step the learning rate scales overflowed (e.g. `η·g` with a huge `η`).
    LearningRate {
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// Its role, e.g. `"weight"`.
        name: &'static str,
    },
    /// The weight decay's term (`λ·W`, or `η·λ·W`) overflowed.
    WeightDecay {
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// Its role, e.g. `"weight"`.
        name: &'static str,
    },
    /// The L2 weight decay's loss term `½·λ·ΣW²` overflowed (the batch's loss itself was finite).
    Penalty,
    /// A layer's running statistics (batch normalization's mean or variance) became non-finite
    /// in the forward pass; they were put back.
    Statistics,
    /// An optimizer that does not check its own updates (one written outside the crate) left a
    /// non-finite value; the training loop put the values before the step back.
    Update {
        /// Position of the parameter in the network's parameter order.
        index: usize,
        /// Its role, e.g. `"weight"`.
        name: &'static str,
    },
}

impl Divergence {
    /// The index of the parameter the cause names (its position in the network's parameter
    /// order), if it names one.
    pub fn parameter_index(&self) -> Option<usize> {
        match self {
            Divergence::Gradient { index, .. }
            | Divergence::LearningRate { index, .. }
            | Divergence::WeightDecay { index, .. }
            | Divergence::Update { index, .. } => Some(*index),
            Divergence::Loss | Divergence::Penalty | Divergence::Statistics => None,
        }
    }

    /// What to try: for a non-finite loss or gradient, the inputs' scale or the learning rate;
    /// for an overflowing step, the learning rate; for an overflowing decay, the weight decay.
    pub fn hint(&self) -> &'static str {
        match self {
            Divergence::Loss | Divergence::Gradient { .. } | Divergence::Statistics => {
                "Likely causes: inputs on a large scale (standardize them) or a learning rate too large for them"
            }
            Divergence::LearningRate { .. } => "Likely cause: a learning rate too large (lower it)",
            Divergence::WeightDecay { .. } | Divergence::Penalty => {
                "Likely cause: a weight decay too strong (lower its lambda)"
            }
            Divergence::Update { .. } => "Likely cause: the optimizer's settings (a learning rate too large?)",
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::Loss => write!(f, "the loss is not finite"),
            Divergence::Gradient { index, name } => {
                write!(f, "the gradient of parameter {index} ({name}) is not finite or overflows when squared")
            }
            Divergence::LearningRate { index, name } => {
                write!(f, "the learning-rate step of parameter {index} ({name}) overflows")
            }
            Divergence::WeightDecay { index, name } => {
                write!(f, "the weight decay of parameter {index} ({name}) overflows")
            }
            Divergence::Penalty => write!(f, "the L2 weight decay's loss term overflows"),
            Divergence::Statistics => write!(f, "a layer's running statistics (batch normalization's) are not finite"),
            Divergence::Update { index, name } => {
                write!(f, "the optimizer's update of parameter {index} ({name}) is not finite")
            }
        }
    }
}

/// [`FormatError::WrongDtype`]'s message: for the file as a whole, which type to read it as.
fn wrong_dtype(tensor: &str, got: &str, expected: &str) -> String {
    let readable = matches!(got, "F32" | "F64");
    if tensor == "file" && readable {
        let got = got.to_lowercase();
        format!("the file holds {got} values, not {expected}: read it as it was saved (Sequential::<{got}>)")
    } else if tensor == "file" {
        format!("the file holds {got} values, expected {expected}")
    } else {
        format!("tensor {tensor:?} is stored as {got}, expected {expected}")
    }
}

/// A number for a message: as Rust prints it when that is short, in scientific notation when it
/// is very large or very small (`1e300`, not 301 digits).
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() || (1e-9..1e16).contains(&a) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}
