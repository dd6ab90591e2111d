use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::candidates::config::Config;
use crate::cli::SqlArgs;
use crate::error::InputError;
use crate::output::emit;
use crate::sql::{generate, SqlOptions};

pub(crate) fn run(args: SqlArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    if config.candidates.is_empty() {
        return Err(InputError::new(format!(
            "config {}: declares no candidates; `nsm init` writes a starter list",
            args.config.display()
        ))
        .into());
    }
    let options = SqlOptions {
        dialect: args.dialect,
        table: &args.table,
        period: args.period,
        as_of: args.as_of,
        revenue_table: args.revenue_table.as_deref(),
        revenue_customer_column: &args.revenue_customer_column,
    };
    let text = generate(&config, &options, args.query)?;
    emit(args.output.output.as_deref(), &text)?;
    Ok(ExitCode::Success)
}
