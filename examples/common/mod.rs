//! What the examples share: `--help`, argument parsing with messages that name the argument,
//! errors printed as sentences with their causes (not in `Debug` form); and for the course's
//! examples the XOR data, NumPy's seed-0 starting weights, and printing a matrix the way NumPy's
//! `print` shows an array.
//!
//! Each example's `main` is `common::main(USAGE, run)`, where `run` is the program.

#![allow(dead_code)] // each example uses part of it

use nalgebra::DMatrix;
use std::error::Error;
use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;

/// Runs `run` as a program: `-h`/`--help` prints `usage` and exits 0; an error is printed to
/// standard error as `error: <message>`, each cause on a line `  caused by: <cause>`, and the
/// program exits with status 1.
///
/// Arguments are checked against the usage line first: an option (`--name`) it does not name,
/// or more arguments than its `[...]` groups hold, is an error (they were ignored, and
/// `05_linear_regression --bogus` drew to a file named `--bogus`).
pub fn main(usage: &str, run: impl FnOnce() -> Result<(), Box<dyn Error>>) -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{usage}");
        return ExitCode::SUCCESS;
    }
    let checked = check_args(usage, std::env::args().skip(1).collect()).map_err(Box::<dyn Error>::from);
    match checked.and_then(|()| run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.is::<std::num::ParseIntError>() || e.is::<std::num::ParseFloatError>() {
                eprintln!("error: an argument is not a number: {e}");
            } else {
                eprintln!("error: {e}");
            }
            let mut cause = e.source();
            while let Some(c) = cause {
                eprintln!("  caused by: {c}");
                cause = c.source();
            }
            eprintln!("{}", usage.lines().next().unwrap_or_default());
            ExitCode::FAILURE
        }
    }
}

/// Checks `args` against the usage line (the first line of `usage`): every `--option` must be
/// one it names, and there may be at most as many arguments as its `[...]` groups after the
/// example's name hold (a group's count is its longest alternative: `[seed | --numpy-start]`
/// holds one, `[--course-weights W1 W2]` three).
fn check_args(usage: &str, args: Vec<String>) -> Result<(), String> {
    let line = usage.lines().next().unwrap_or_default();
    // What follows `--example <name>` (and a `--` after it).
    let tail = line.split_once("--example ").map_or("", |(_, rest)| rest);
    let tail = tail.split_once(' ').map_or("", |(_, rest)| rest).trim_start_matches("-- ");
    let mut most = 0;
    for group in tail.split('[').skip(1) {
        let inside = group.split(']').next().unwrap_or_default();
        most += inside.split('|').map(|alternative| alternative.split_whitespace().count()).max().unwrap_or(0);
    }
    if let Some(option) = args.iter().find(|a| a.starts_with("--") && !tail.contains(a.as_str())) {
        return Err(format!("unknown option {option:?}"));
    }
    if args.len() > most {
        return Err(format!("{} arguments given, at most {most} expected", args.len()));
    }
    Ok(())
}

/// A command-line argument that does not parse.
#[derive(Debug)]
pub struct BadArg {
    name: &'static str,
    value: String,
    cause: Box<dyn Error>,
}

impl fmt::Display for BadArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}", self.name, self.value)
    }
}

impl Error for BadArg {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.cause.as_ref())
    }
}

/// Positional argument `index` (from 1) named `name`, parsed; `default` when absent.
pub fn arg<T: FromStr>(index: usize, name: &'static str, default: T) -> Result<T, BadArg>
where
    T::Err: Error + 'static,
{
    parse(name, std::env::args().nth(index).as_deref(), default)
}

/// An argument `value` named `name`, parsed; `default` when absent.
pub fn parse<T: FromStr>(name: &'static str, value: Option<&str>, default: T) -> Result<T, BadArg>
where
    T::Err: Error + 'static,
{
    match value {
        None => Ok(default),
        Some(value) => value.parse().map_err(|e: T::Err| BadArg { name, value: value.into(), cause: Box::new(e) }),
    }
}

/// The course's inputs `X` (4 × 2) and XOR targets `Y` (4 × 1).
pub fn xor_data() -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    (x, t)
}

/// `W_layer_1` (2 × 3) as `xor_numpy.py` draws it: `np.random.seed(0)`, U(0, 1)
/// (`../shared/bench/README.md`).
pub fn numpy_w1() -> DMatrix<f64> {
    DMatrix::from_row_slice(
        2,
        3,
        &[
            0.5488135039273248,
            0.7151893663724195,
            0.6027633760716439,
            0.5448831829968969,
            0.4236547993389047,
            0.6458941130666561,
        ],
    )
}

/// `W_layer_2` (3 × 1), drawn right after [`numpy_w1`].
pub fn numpy_w2() -> DMatrix<f64> {
    DMatrix::from_row_slice(3, 1, &[0.4375872112626925, 0.8917730007820798, 0.9636627605010293])
}

/// A matrix in NumPy's block layout, e.g. `[[0.07607478]\n [0.95087552]]`: rows in brackets,
/// one per line, every entry with `decimals` decimals (`0`: whole numbers, as an integer array
/// prints) and right-aligned to the widest.
pub fn block(m: &DMatrix<f64>, decimals: usize) -> String {
    let cells: Vec<String> = m.iter().map(|v| format!("{v:.decimals$}")).collect();
    let width = cells.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut out = String::from("[");
    for i in 0..m.nrows() {
        if i > 0 {
            out.push_str("\n ");
        }
        let row: Vec<String> = (0..m.ncols()).map(|j| format!("{:>width$}", cells[j * m.nrows() + i])).collect();
        out.push_str(&format!("[{}]", row.join(" ")));
    }
    out.push(']');
    out
}

/// The entries of `m`, row by row, joined by commas, each with `decimals` decimals: the form of a
/// `result:` line's values.
pub fn csv(m: &DMatrix<f64>, decimals: usize) -> String {
    let mut cells = Vec::with_capacity(m.len());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            cells.push(format!("{:.decimals$}", m[(i, j)]));
        }
    }
    cells.join(",")
}
