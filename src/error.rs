//! Errors a caller branches on. Everything a user can fix (bad flags, bad files, bad config)
//! is an [`InputError`]; [`crate::exit_codes`] maps it to exit code 2 and anything else to an
//! internal error.

use std::fmt;

/// A problem with what the user gave us: a flag, a file, a config. Exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    pub message: String,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// An error located in a file: `file:line: column 'col': value 'v': what`.
    pub fn at(
        file: &str,
        line: Option<u64>,
        column: Option<&str>,
        value: Option<&str>,
        what: impl fmt::Display,
    ) -> Self {
        let mut message = file.to_string();
        if let Some(line) = line {
            message.push_str(&format!(", line {line}"));
        }
        if let Some(column) = column {
            message.push_str(&format!(", column '{column}'"));
        }
        if let Some(value) = value {
            message.push_str(&format!(", value '{}'", shorten(value)));
        }
        message.push_str(&format!(": {what}"));
        Self { message }
    }
}

/// Keep offending values readable in a one-line message.
pub(crate) fn shorten(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// Shorthand for returning an input error from a function that returns `anyhow::Result`.
#[macro_export]
macro_rules! input_err {
    ($($arg:tt)*) => {
        anyhow::Error::new($crate::error::InputError::new(format!($($arg)*)))
    };
}
