//! A row of an input file that could not be read: where it is, what it holds, why.

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadRow {
    pub file: String,
    pub line: Option<u64>,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl BadRow {
    pub fn to_error(&self) -> InputError {
        InputError::at(
            &self.file,
            self.line,
            Some(&self.column),
            Some(&self.value),
            &self.reason,
        )
    }
}
