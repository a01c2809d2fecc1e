//! [`Shape`]: the shape of one sample, as layers see it.

use std::fmt;

/// The shape of one sample (one row of a batch).
///
/// Images travel as rows too: one image per row, flattened channel-first (C, H, W), so pixel
/// `(c, h, w)` is column `(c·H + h)·W + w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A flat vector of features.
    Flat(usize),
    /// An image of `channels` planes of `height × width` pixels.
    Image {
        /// Number of channels (planes).
        channels: usize,
        /// Rows of pixels.
        height: usize,
        /// Columns of pixels.
        width: usize,
    },
}

impl Shape {
    /// Number of columns a sample of this shape takes in a batch matrix, saturating at
    /// `usize::MAX` for an image whose `C·H·W` overflows (see [`checked_len`](Shape::checked_len);
    /// building a network refuses such shapes).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Number of columns a sample of this shape takes in a batch matrix, or `None` if `C·H·W`
    /// overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        match *self {
            Shape::Flat(n) => Some(n),
            Shape::Image { channels, height, width } => channels.checked_mul(height)?.checked_mul(width),
        }
    }

    /// Whether a sample of this shape has no features.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Flat(n) => write!(f, "{n}"),
            Shape::Image { channels, height, width } => write!(f, "{channels}x{height}x{width}"),
        }
    }
}
