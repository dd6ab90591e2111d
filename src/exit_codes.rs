//! The process's exit code, decided in one place from what a command returned.

use crate::error::InputError;

/// What the process tells its caller (README "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did its job; for `check`, the gate passed.
    Success,
    /// `check`: the gate failed.
    GateFailed,
    /// A usage or input error: something the user can fix, explained in one line.
    InputError,
    /// A bug in nsm (or in a library it uses), never the user's input.
    InternalError,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::GateFailed => 1,
            ExitCode::InputError => 2,
            ExitCode::InternalError => 3,
        }
    }

    /// The code of a failed command: an [`InputError`] anywhere in its chain is the user's to
    /// fix; anything else is internal.
    pub fn of_error(error: &anyhow::Error) -> ExitCode {
        if error.chain().any(|cause| cause.is::<InputError>()) {
            ExitCode::InputError
        } else {
            ExitCode::InternalError
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_are_the_users_and_the_rest_internal() {
        let input = anyhow::Error::new(InputError::new("bad file")).context("while reading");
        assert_eq!(ExitCode::of_error(&input), ExitCode::InputError);
        let internal = anyhow::anyhow!("index out of range");
        assert_eq!(ExitCode::of_error(&internal), ExitCode::InternalError);
        assert_eq!(
            [
                ExitCode::Success,
                ExitCode::GateFailed,
                ExitCode::InputError,
                ExitCode::InternalError
            ]
            .map(ExitCode::code),
            [0, 1, 2, 3]
        );
    }
}
