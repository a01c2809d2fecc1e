//! A [`History`] as CSV, in memory or written to a file.
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
        for i in 0..self.loss.len() {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                self.first_epoch + i + 1,
                self.loss[i],
                opt(&self.accuracy, i),
                opt(&self.val_loss, i),
                opt(&self.val_accuracy, i),
                opt(&self.learning_rate, i),
                opt(&self.seconds, i),
            ));
        }
        csv
    }

    /// Writes [`to_csv`](History::to_csv) to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if the file cannot be written; an existing file is then intact.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::file::write_atomically(path.as_ref(), self.to_csv().as_bytes())
    }
}
