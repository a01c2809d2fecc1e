//! What every example shares: `--help`, argument parsing with messages that name the argument,
//! and errors printed as sentences with their causes (not in `Debug` form).
//!
//! Each example's `main` is `common::main(USAGE, run)`, where `run` is the program.

#![allow(dead_code)] // each example uses part of it

use std::error::Error;
use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;

/// Runs `run` as a program: `-h`/`--help` prints `usage` and exits 0; an error is printed to
/// standard error as `error: <message>`, each cause on a line `  caused by: <cause>`, and the
/// program exits with status 1.
pub fn main(usage: &str, run: impl FnOnce() -> Result<(), Box<dyn Error>>) -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{usage}");
        return ExitCode::SUCCESS;
    }
    match run() {
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
    match std::env::args().nth(index) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|e: T::Err| BadArg { name, value, cause: Box::new(e) }),
    }
}
