//! The command line, and nothing else: every flag, its default and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::ingest::columns::ColumnMap;
use crate::period::PeriodKind;
use crate::render::format::Format;
use crate::render::gate::CheckFormat;
use crate::render::report::format::ReportFormat;

#[derive(Debug, Parser)]
#[command(
    name = "nsm",
    version,
    about = "Find your North Star metric: the candidate revenue follows 3–12 months later and that cannot rise while customers churn",
    long_about = None,
    after_help = "Start with `nsm demo` to see a full evaluation on a built-in dataset.\n\nExit codes: 0 success, 1 `check` gate failed, 2 usage or input error, 3 internal error (a bug)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rank every candidate metric on the lead and churn tests.
    #[command(
        after_help = "Examples:\n  nsm evaluate --events events.csv --revenue revenue.csv\n  nsm evaluate --events 'exports/*.csv.gz' --revenue mrr.csv --config nsm.toml --format json --output result.json\n  nsm evaluate --events events.parquet --revenue revenue.csv --period week --lags 3..9\n  nsm evaluate --events export.csv --revenue revenue.csv --map timestamp=occurred_at,user_id=member,event=action\n  nsm evaluate --events amplitude_export.zip --revenue revenue.csv --map account_id=company,value=duration"
    )]
    Evaluate(EvaluateArgs),
    /// Evaluate a built-in synthetic SaaS dataset with a planted north star.
    #[command(
        after_help = "Examples:\n  nsm demo\n  nsm demo --format markdown\n  nsm demo --write-data demo-data && nsm evaluate --events demo-data/events.csv --revenue demo-data/revenue.csv --config demo-data/nsm.toml"
    )]
    Demo(DemoArgs),
    /// CI gate: the declared north star must pass both tests (exit 0), else exit 1.
    #[command(
        after_help = "Examples:\n  nsm check --events events.csv --revenue revenue.csv --config nsm.toml\n  nsm check --events events.csv --revenue revenue.csv --config nsm.toml --baseline main.json --max-score-drop 5 --junit nsm-junit.xml\n\nExit codes: 0 the gate passed, 1 it failed, 2 usage or input error, 3 internal error (a bug).\nWith GITHUB_ACTIONS=true, failures are also printed as ::error:: annotations."
    )]
    Check(CheckArgs),
    /// The review document: recommendation, ranking, charts, what changed since last time.
    #[command(
        after_help = "Examples:\n  nsm report --events events.csv --revenue revenue.csv --config nsm.toml --format html --output review.html\n  nsm report --events events.csv --revenue revenue.csv --as-of 2025-03-31 --json q1.json --output q1.md\n  nsm report --events events.csv --revenue revenue.csv --as-of 2025-06-30 --compare q1.json --format html --output q2.html"
    )]
    Report(ReportArgs),
    /// Print SQL that computes every candidate's series inside your warehouse.
    #[command(
        after_help = "Examples:\n  nsm sql --dialect duckdb --config nsm.toml --table events > series.sql\n  nsm sql --dialect bigquery --config nsm.toml --table analytics.events --revenue-table billing.revenue --query customers\n  nsm evaluate --series series.csv --customers customers.csv --revenue revenue.csv --config nsm.toml\n\nThe events table needs the columns mapped under [events] in nsm.toml; its timestamp column must\nbe a timestamp type (naive timestamps are read as UTC)."
    )]
    Sql(SqlArgs),
    /// Find thresholds nobody guessed ("accounts with 5+ X in a week") and the input tree beneath the star.
    #[command(
        after_help = "Examples:\n  nsm discover --events events.csv --revenue revenue.csv\n  nsm discover --events events.csv --revenue revenue.csv --config nsm.toml --write-config nsm.discovered.toml\n  nsm discover --events events.csv --revenue revenue.csv --star accounts_5plus_meetings --format markdown --output discover.md\n\nThresholds are chosen on one half of the paying accounts and confirmed on the other (a seeded\nsplit: --seed). Needs per-customer revenue: each account's retention is the evidence."
    )]
    Discover(DiscoverArgs),
    /// Write a starter nsm.toml with the candidates discovered in the events.
    #[command(
        after_help = "Examples:\n  nsm init --events events.csv --revenue revenue.csv\n  nsm init --events 'exports/*.parquet' --output config/nsm.toml --force\n  nsm init --events export.csv --map account_id=workspace\n  nsm init --events mixpanel_export.json --timezone America/Los_Angeles --map account_id=company_id\n\nColumns not named timestamp, user_id, account_id, event, value are proposed from the header and\nthe first rows; the choices are written as comments under [events] and said on stderr."
    )]
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Event files: CSV, gzip CSV or Parquet, or a vendor's event export (see
    /// --events-format); several files or a quoted glob.
    #[arg(long, value_name = "FILE", num_args = 1.., required_unless_present = "series", conflicts_with = "series")]
    pub events: Vec<PathBuf>,
    /// Pre-aggregated series (`period,candidate,value`, from `nsm sql`) instead of events;
    /// needs --config with the candidates the SQL was generated from.
    #[arg(long, value_name = "FILE", requires = "config")]
    pub series: Option<PathBuf>,
    /// With --series: each account's part (`period,candidate,account,value`, from
    /// `nsm sql --query customers`), for the churn test's entity-level figures.
    #[arg(long, value_name = "FILE", requires = "series")]
    pub customers: Option<PathBuf>,
    /// Revenue file: `period,revenue`, `date,customer_id,amount[,months]`, Stripe invoice line
    /// items or ChartMogul activities (see --revenue-format).
    #[arg(long, value_name = "FILE", required = true)]
    pub revenue: PathBuf,
    /// The revenue file's layout: `stripe` (invoice line items: customer, amount in the
    /// smallest currency unit, currency, status, period_start, period_end), `chartmogul`
    /// (activities: MRR from the running sum of activity-mrr-movement), or `table` (nsm's own)
    /// [default: detected from the header].
    #[arg(long, value_name = "FORMAT")]
    pub revenue_format: Option<crate::ingest::revenue::RevenueFormat>,
    /// Candidates, column mapping and the declared north star (default: automatic catalog).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Field delimiter of every CSV input: one character, or `tab`.
    #[arg(long, value_name = "CHAR", default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Skip unreadable event rows and count them, instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// IANA zone of event times written without one (e.g. `Europe/Berlin`: Excel exports,
    /// legacy Mixpanel projects, app databases) [default: UTC, or `[events] timezone`].
    #[arg(long, value_name = "ZONE", value_parser = crate::ingest::timestamp::parse_zone)]
    pub timezone: Option<chrono_tz::Tz>,
    /// Event columns for this run, over `[events]` in nsm.toml: nsm's name = yours, e.g.
    /// `timestamp=occurred_at,user_id=member,account_id=workspace,event=action`.
    #[arg(long, value_name = "ROLE=COLUMN,...", value_parser = ColumnMap::parse)]
    pub map: Option<ColumnMap>,
    /// The event files are this vendor's export (JSON lines, `.json.gz`, Amplitude's ZIP,
    /// PostHog's Parquet) [default: detected from the first record, or `[events] format`].
    #[arg(long, value_name = "VENDOR")]
    pub events_format: Option<crate::ingest::events::Vendor>,
    /// With a `currency` column in the revenue file: keep the rows in this currency (the
    /// others are left out and counted in the notes).
    #[arg(long, value_name = "CODE", conflicts_with = "fx")]
    pub currency: Option<String>,
    /// With a `currency` column: convert every row at these rates (`currency,rate` or
    /// `month,currency,rate`; amount × rate = amount in the reporting currency).
    #[arg(long, value_name = "FILE")]
    pub fx: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Reporting period.
    #[arg(long, value_enum, default_value = "month")]
    pub period: PeriodKind,
    /// Lag range in months, `MIN..MAX` (weekly periods convert) [default: 3..12]. A range set
    /// here must fit the data; the default one gives `inconclusive` on short data instead.
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_lags)]
    pub lags: Option<(u32, u32)>,
    /// Significance level of both tests.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Seed of the surrogate null: same input and seed, same output.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Surrogate series pairs for the lead test's p-value.
    #[arg(long, value_name = "N", default_value_t = 9999, value_parser = clap::value_parser!(u32).range(19..=100_000))]
    pub surrogates: u32,
    /// Remove a fixed monthly (or weekly) pattern before the lead test; needs three full years.
    /// Off by default: the surrogate null already keeps each series' seasonality.
    #[arg(long, value_enum, default_value = "off")]
    pub seasonal: Seasonal,
    /// Ignore data after this date (YYYY-MM-DD), e.g. the end of a quarter.
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Seasonal {
    On,
    Off,
}

/// Where the result goes, and whether progress is shown: every command's `--output` and
/// `--quiet`.
#[derive(Debug, Args)]
pub struct Destination {
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// No progress messages on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub destination: Destination,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Also write the dataset (events.csv, revenue.csv, nsm.toml) into this directory.
    #[arg(long, value_name = "DIR")]
    pub write_data: Option<PathBuf>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// A saved `nsm evaluate --format json` to compare with.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Largest drop of the star's score against the baseline that still passes.
    #[arg(long, value_name = "POINTS", default_value_t = 10.0)]
    pub max_score_drop: f64,
    /// Fail when another passing candidate outscores the star by more than this.
    #[arg(long, value_name = "POINTS", default_value_t = 5.0)]
    pub outrank_margin: f64,
    /// Also write a JUnit XML report (one test case per check).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    #[command(flatten)]
    pub output: Destination,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL dialect of the warehouse.
    #[arg(long, value_enum)]
    pub dialect: crate::sql::Dialect,
    /// Candidates and the [events] column mapping.
    #[arg(long, value_name = "FILE", required = true)]
    pub config: PathBuf,
    /// Events table, optionally qualified (`schema.events`, `project.dataset.events`).
    #[arg(long, value_name = "NAME")]
    pub table: String,
    /// Per-customer revenue table: the customers query keeps only its customers.
    #[arg(long, value_name = "NAME")]
    pub revenue_table: Option<String>,
    /// Customer id column of --revenue-table.
    #[arg(long, value_name = "COLUMN", default_value = "customer_id")]
    pub revenue_customer_column: String,
    /// `series`: period, candidate, value (for --series); `customers`: each account's part
    /// (for --customers, the churn test's entity-level figures).
    #[arg(long, value_enum, default_value = "series")]
    pub query: crate::sql::Query,
    /// Reporting period.
    #[arg(long, value_enum, default_value = "month")]
    pub period: PeriodKind,
    /// Ignore events after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<i32>,
    #[command(flatten)]
    pub output: Destination,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ReportFormat,
    /// A saved evaluation (`--json` of an earlier report, or `nsm evaluate --format json`):
    /// show rank moves, score changes, verdict flips and new candidates since then.
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
    /// Also save this evaluation as JSON, for the next report's --compare.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Candidates with charts besides the declared north star.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub top: usize,
    #[command(flatten)]
    pub output: Destination,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// The candidate whose input tree to build (of the config, the automatic catalog or the
    /// threshold grid) [default: the config's [north_star], else the confirmed threshold].
    #[arg(long, value_name = "NAME")]
    pub star: Option<String>,
    /// Only the star's input tree (no threshold search): for a quick look, or data without
    /// per-customer revenue.
    #[arg(long)]
    pub tree_only: bool,
    /// Also write a config (atomically) with the confirmed thresholds and the tree's drivers
    /// added as [[candidate]] blocks, for `nsm evaluate` and `nsm check`.
    #[arg(long, value_name = "PATH")]
    pub write_config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::render::discover::DiscoverFormat,
    #[command(flatten)]
    pub output: Destination,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Event files: CSV, gzip CSV or Parquet, or a vendor's event export (see
    /// --events-format); several files or a quoted glob.
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub events: Vec<PathBuf>,
    /// Revenue file; checked to be readable, so mistakes show up now rather than later.
    #[arg(long, value_name = "FILE")]
    pub revenue: Option<PathBuf>,
    /// The revenue file's layout: `stripe`, `chartmogul` or `table` [default: detected from
    /// the header].
    #[arg(long, value_name = "FORMAT", requires = "revenue")]
    pub revenue_format: Option<crate::ingest::revenue::RevenueFormat>,
    /// Field delimiter of every CSV input: one character, or `tab`.
    #[arg(long, value_name = "CHAR", default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Event columns, where their names do not say it (nsm's name = yours, e.g.
    /// `timestamp=occurred_at,user_id=member`); the others are proposed from the header and
    /// the first rows.
    #[arg(long, value_name = "ROLE=COLUMN,...", value_parser = ColumnMap::parse)]
    pub map: Option<ColumnMap>,
    /// IANA zone of event times written without one; written as `[events] timezone`, so that
    /// every later run reads them the same way.
    #[arg(long, value_name = "ZONE", value_parser = crate::ingest::timestamp::parse_zone)]
    pub timezone: Option<chrono_tz::Tz>,
    /// The event files are this vendor's export [default: detected from the first record];
    /// written as `[events] format`.
    #[arg(long, value_name = "VENDOR")]
    pub events_format: Option<crate::ingest::events::Vendor>,
    /// Where to write the config.
    #[arg(long, value_name = "PATH", default_value = "nsm.toml")]
    pub output: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err(format!(
            "'{text}' is not a single ASCII character (use 'tab' for a tab)"
        )),
    }
}

fn parse_lags(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{text}' is not a lag range such as 3..12 (months, 1 to 36, MIN ≤ MAX)");
    let (min, max) = text.split_once("..").ok_or_else(bad)?;
    let min: u32 = min.trim().parse().map_err(|_| bad())?;
    let max: u32 = max.trim().parse().map_err(|_| bad())?;
    if min == 0 || max > 36 || min > max {
        return Err(bad());
    }
    Ok((min, max))
}

fn parse_alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 0.5 => Ok(a),
        _ => Err(format!(
            "'{text}' is not a significance level between 0 and 0.5"
        )),
    }
}

fn parse_as_of(text: &str) -> Result<i32, String> {
    crate::period::parse_date(text)
        .ok_or_else(|| format!("'{text}' is not a date such as 2024-12-31"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lag_ranges() {
        assert_eq!(parse_lags("3..12"), Ok((3, 12)));
        assert!(parse_lags("12..3").is_err());
        assert!(parse_lags("0..3").is_err());
        assert!(parse_lags("3-12").is_err());
    }

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert!(parse_delimiter(";;").is_err());
    }
}
