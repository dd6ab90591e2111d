//! A row of an input file that could not be read: where it is, what it holds, why.

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BadRow {
    pub(crate) file: String,
    pub(crate) line: Option<u64>,
    pub(crate) column: String,
    pub(crate) value: String,
    pub(crate) reason: String,
}

impl BadRow {
    pub(crate) fn to_error(&self) -> InputError {
        InputError::at(
            &self.file,
            self.line,
            Some(&self.column),
            Some(&self.value),
            &self.reason,
        )
    }
}
