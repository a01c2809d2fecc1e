//! The crate's one error type.

use std::fmt;

/// Which layer an error comes from: its kind and, once known, its position in a network.
///
/// A layer used on its own reports only its kind ("dense"); a network adds the position
/// ("layer 2 (dense)") as the error passes through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerId {
    /// Position of the layer in its network, counted from 0, when the layer is in one.
    pub index: Option<usize>,
    /// The layer's kind, e.g. `"dense"` or `"sigmoid"`.
    pub kind: &'static str,
}

impl LayerId {
    /// A layer of this kind, position not yet known.
    pub fn kind(kind: &'static str) -> Self {
        LayerId { index: None, kind }
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "layer {i} ({})", self.kind),
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
    /// Inputs and targets have different numbers of rows (samples).
    #[error("x has {x_rows} rows but the targets have {t_rows}; each row is one sample")]
    RowCountMismatch {
        /// Rows of the inputs.
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
    /// A matrix that must hold data has none.
    #[error("{what} is empty ({got}); at least one row and one column are required")]
    EmptyInput {
        /// Which matrix.
        what: &'static str,
        /// Its shape.
        got: Dims,
    },

    // === Values ===
    /// A NaN or infinity where finite numbers are required.
    #[error("{what} holds a non-finite value {value} at row {row}, column {col}")]
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
    #[error("label {label} at row {row} is not a class index in 0..{classes}")]
    LabelOutOfRange {
        /// Row of the label.
        row: usize,
        /// The label as given.
        label: f64,
        /// Number of classes.
        classes: usize,
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
    /// A network has no parameter of this name in this layer.
    #[error("layer {layer} has no parameter named {name:?}")]
    NoSuchParam {
        /// Position of the layer.
        layer: usize,
        /// The name asked for.
        name: String,
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
    /// An optimizer's state does not fit: the parameters of a step differ from the ones it was
    /// created for, or a state to import is not one the optimizer exports.
    #[error("{optimizer} state: {mismatch}")]
    OptimizerState {
        /// The optimizer's [name](crate::Optimizer::name), e.g. `"adam"`.
        optimizer: &'static str,
        /// What does not fit.
        mismatch: StateMismatch,
    },
    /// Training produced a non-finite loss or gradient; the update was not applied.
    #[error(
        "training diverged at epoch {epoch}: loss {loss}; the update was not applied (try a smaller learning rate)"
    )]
    Diverged {
        /// Epoch (from 0) of the failed step.
        epoch: usize,
        /// The loss of the failed step.
        loss: f64,
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
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done: `"read"`, `"write"`, ...
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A model file that is not a valid saved network, or does not fit the network it is loaded
    /// into.
    #[error("model file: {0}")]
    Format(#[from] FormatError),

    // === Data files ===
    /// A data file does not exist; the message says where to put it.
    #[error("{what} file {} not found; {hint}", .path.display())]
    DataFileNotFound {
        /// What kind of file, e.g. `"MNIST"` or `"digits"`.
        what: &'static str,
        /// The path looked at.
        path: std::path::PathBuf,
        /// Where to get the file or where to put it.
        hint: String,
    },
    /// A binary data file does not start with the magic number of its format.
    #[error("{}: magic number 0x{found:08x} at byte 0, expected 0x{expected:08x} ({format})", .path.display())]
    BadMagic {
        /// The file.
        path: std::path::PathBuf,
        /// The format expected, e.g. `"IDX images, u8, 3 dimensions"`.
        format: &'static str,
        /// The magic number of that format.
        expected: u32,
        /// The number found.
        found: u32,
    },
    /// A data file ends before the data its header announces (offsets count decompressed bytes).
    #[error("{} is truncated: {needed} bytes of {part} needed from byte {offset}, but only {available} are there", .path.display())]
    Truncated {
        /// The file.
        path: std::path::PathBuf,
        /// Which part is cut short, e.g. `"pixel data"`.
        part: &'static str,
        /// Where that part starts.
        offset: u64,
        /// Bytes the part needs.
        needed: u64,
        /// Bytes present from `offset` on.
        available: u64,
    },
    /// A data file goes on after the end its header announces.
    #[error("{}: unexpected data after byte {offset}, where the header's dimensions end the file", .path.display())]
    TrailingData {
        /// The file.
        path: std::path::PathBuf,
        /// Where the file should end.
        offset: u64,
    },
    /// An IDX header whose dimensions overflow or exceed the size limit; nothing was allocated.
    #[error("{}: the header's dimensions {} need more than the limit of {limit} bytes", .path.display(), join_dims(.dims))]
    IdxTooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// The dimensions in the header.
        dims: Vec<u32>,
        /// The most bytes of data allowed.
        limit: u64,
    },
    /// A (decompressed) text data file longer than the size limit.
    #[error("{} holds more than {limit} bytes (after decompression); it was not read further", .path.display())]
    FileTooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// The most bytes allowed.
        limit: u64,
    },
    /// An image file and its label file hold different numbers of samples.
    #[error("{} holds {image_count} images but {} holds {label_count} labels", .images.display(), .labels.display())]
    CountMismatch {
        /// The image file.
        images: std::path::PathBuf,
        /// Images in it.
        image_count: usize,
        /// The label file.
        labels: std::path::PathBuf,
        /// Labels in it.
        label_count: usize,
    },
    /// A cell of a CSV file that cannot be read as what its column holds.
    #[error("{}, line {line}, column {column}: {text:?} is not {expected}", .path.display())]
    BadCell {
        /// The file.
        path: std::path::PathBuf,
        /// Line, counted from 1.
        line: usize,
        /// Column (cell), counted from 1.
        column: usize,
        /// The cell's text (cut to 40 characters).
        text: String,
        /// What the column holds, e.g. `"a finite number"`.
        expected: &'static str,
    },
    /// A CSV line with another number of cells than the rows before it.
    #[error("{}, line {line}: {got} cells, expected {expected}", .path.display())]
    RowWidth {
        /// The file.
        path: std::path::PathBuf,
        /// Line, counted from 1.
        line: usize,
        /// Cells expected.
        expected: usize,
        /// Cells found.
        got: usize,
    },
    /// A data file with no data rows.
    #[error("{} holds no data rows", .path.display())]
    EmptyDataFile {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Dimensions as `2x28x28` for error messages.
fn join_dims(dims: &[u32]) -> String {
    dims.iter().map(u32::to_string).collect::<Vec<_>>().join("x")
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Fills in the layer position of a layer error that does not know it yet.
    pub(crate) fn at_layer(mut self, index: usize) -> Self {
        match &mut self {
            Error::FeatureMismatch { layer, .. }
            | Error::ShapeMismatch { layer, .. }
            | Error::LayerChain { layer, .. }
            | Error::NoForwardCache { layer }
            | Error::NotBuilt { layer }
                if layer.index.is_none() =>
            {
                layer.index = Some(index);
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
    #[error("tensor {name:?} holds {value} at row {row}, column {col}, expected {expected}")]
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
    #[error("counter {name:?} of shape {shape} holds {value}, expected a 1x1 non-negative integer")]
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
    /// The file describes a layer kind this version cannot rebuild.
    #[error("layer {index} has unknown kind {kind:?}")]
    UnknownLayer {
        /// Position of the layer.
        index: usize,
        /// The kind found.
        kind: String,
    },
    /// The file holds another scalar type than asked for.
    #[error("tensor {tensor:?} is stored as {got}, expected {expected}")]
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
    #[error("tensor {name:?} holds a non-finite value {value} at row {row}, column {col}")]
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
