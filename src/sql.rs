//! `nsm sql`: one query that computes every candidate's per-period series inside the warehouse,
//! with the same definitions as the in-process plan (`candidates::plan`), and a second one with
//! the per-account contributions the churn test needs.
//!
//! Times: the timestamp column must be a timestamp type (naive timestamps are read as UTC).
//! Each event's UTC day is `floor(epoch seconds / 86400)`; its ISO week is `floor((day + 3) / 7)`
//! (the week whose Monday is day `7w - 3` and whose Thursday is day `7w`); its month is the
//! calendar month of the day. Week windows belong to the month of their Thursday. Values are
//! summed in whole millionths, as in the in-process path, so sums agree exactly.

use std::fmt::Write;

use anyhow::Result;

use crate::candidates::config::Config;
use crate::candidates::series::{FIRST_EVENT, LAST_EVENT};
use crate::candidates::{Candidate, Entity, EventFilter, Kind, Rollup, Threshold, Window};
use crate::period::PeriodKind;

/// SQL dialects `nsm sql` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Dialect {
    Duckdb,
    Postgres,
    Bigquery,
    Snowflake,
    Spark,
}

impl Dialect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Duckdb => "DuckDB",
            Dialect::Postgres => "PostgreSQL",
            Dialect::Bigquery => "BigQuery",
            Dialect::Snowflake => "Snowflake",
            Dialect::Spark => "Spark SQL",
        }
    }

    /// A quoted identifier.
    pub(crate) fn ident(self, name: &str) -> String {
        match self {
            Dialect::Duckdb | Dialect::Postgres | Dialect::Snowflake => {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
            Dialect::Bigquery => format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// A possibly qualified table name (`schema.table`, `project.dataset.table`), each part
    /// quoted.
    pub(crate) fn table(self, name: &str) -> String {
        name.split('.')
            .map(|part| self.ident(part))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A string literal.
    pub(crate) fn string(self, text: &str) -> String {
        match self {
            // Standard SQL: a quote is doubled, a backslash is itself.
            Dialect::Duckdb | Dialect::Postgres => format!("'{}'", text.replace('\'', "''")),
            // Backslash starts an escape here.
            Dialect::Snowflake => format!(
                "'{}'",
                text.replace('\\', "\\\\")
                    .replace('\'', "''")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
            ),
            Dialect::Bigquery | Dialect::Spark => format!(
                "'{}'",
                text.replace('\\', "\\\\")
                    .replace('\'', "\\'")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
            ),
        }
    }

    fn double(self) -> &'static str {
        match self {
            Dialect::Bigquery => "FLOAT64",
            Dialect::Postgres => "DOUBLE PRECISION",
            _ => "DOUBLE",
        }
    }

    fn bigint(self) -> &'static str {
        match self {
            Dialect::Bigquery => "INT64",
            _ => "BIGINT",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Dialect::Bigquery | Dialect::Spark => "STRING",
            Dialect::Postgres => "TEXT",
            _ => "VARCHAR",
        }
    }

    /// Seconds since 1970-01-01 UTC of a timestamp expression.
    fn epoch_seconds(self, ts: &str) -> String {
        match self {
            Dialect::Duckdb => format!("epoch({ts})"),
            Dialect::Postgres => format!("EXTRACT(EPOCH FROM {ts})"),
            Dialect::Bigquery => format!("UNIX_MICROS(CAST({ts} AS TIMESTAMP)) / 1000000"),
            Dialect::Snowflake => format!("DATE_PART(EPOCH_MICROSECOND, {ts}) / 1000000"),
            Dialect::Spark => format!("unix_micros(CAST({ts} AS TIMESTAMP)) / 1000000"),
        }
    }

    /// The date `day` days after 1970-01-01.
    fn date_of_day(self, day: &str) -> String {
        match self {
            Dialect::Duckdb => format!("CAST(DATE '1970-01-01' + CAST({day} AS INTEGER) AS DATE)"),
            Dialect::Postgres => format!("(DATE '1970-01-01' + CAST({day} AS INTEGER))"),
            Dialect::Bigquery => {
                format!("DATE_ADD(DATE '1970-01-01', INTERVAL CAST({day} AS INT64) DAY)")
            }
            Dialect::Snowflake => format!("DATEADD(day, {day}, DATE '1970-01-01')"),
            Dialect::Spark => format!("date_add(DATE '1970-01-01', CAST({day} AS INT))"),
        }
    }

    /// Days from 1970-01-01 to a date.
    fn day_of_date(self, date: &str) -> String {
        match self {
            Dialect::Duckdb => format!("date_diff('day', DATE '1970-01-01', {date})"),
            Dialect::Postgres => format!("({date} - DATE '1970-01-01')"),
            Dialect::Bigquery => format!("DATE_DIFF({date}, DATE '1970-01-01', DAY)"),
            Dialect::Snowflake => format!("DATEDIFF(day, DATE '1970-01-01', {date})"),
            Dialect::Spark => format!("datediff({date}, DATE '1970-01-01')"),
        }
    }

    /// The first day of a month given as `year * 12 + month - 1`.
    fn month_start(self, month: &str) -> String {
        let year = format!("FLOOR(({month}) / 12.0)");
        let number = format!("({month}) - 12 * {year} + 1");
        match self {
            Dialect::Duckdb => {
                format!("make_date(CAST({year} AS BIGINT), CAST({number} AS BIGINT), 1)")
            }
            Dialect::Postgres => {
                format!("make_date(CAST({year} AS INTEGER), CAST({number} AS INTEGER), 1)")
            }
            Dialect::Bigquery => format!("DATE(CAST({year} AS INT64), CAST({number} AS INT64), 1)"),
            Dialect::Snowflake => {
                format!("DATE_FROM_PARTS(CAST({year} AS INTEGER), CAST({number} AS INTEGER), 1)")
            }
            Dialect::Spark => format!("make_date(CAST({year} AS INT), CAST({number} AS INT), 1)"),
        }
    }

    /// `year * 12 + month - 1` of the day number `day`.
    fn month_of_day(self, day: &str) -> String {
        let date = self.date_of_day(day);
        format!(
            "CAST(EXTRACT(YEAR FROM {date}) * 12 + EXTRACT(MONTH FROM {date}) - 1 AS {})",
            self.bigint()
        )
    }

    /// `SELECT ... AS k`: every integer from `lo` to `hi` of the one-row relation `bounds`.
    fn key_range(self, bounds: &str) -> String {
        match self {
            Dialect::Duckdb => {
                format!("SELECT unnest(range(lo, hi + 1)) AS k FROM {bounds}")
            }
            Dialect::Postgres => format!("SELECT generate_series(lo, hi) AS k FROM {bounds}"),
            Dialect::Bigquery => {
                format!("SELECT k FROM {bounds}, UNNEST(GENERATE_ARRAY(lo, hi)) AS k")
            }
            Dialect::Snowflake => format!(
                "SELECT CAST(f.value AS BIGINT) AS k FROM {bounds}, LATERAL FLATTEN(input => ARRAY_GENERATE_RANGE(lo, hi + 1)) f"
            ),
            Dialect::Spark => format!("SELECT explode(sequence(lo, hi)) AS k FROM {bounds}"),
        }
    }

    fn floor_int(self, expr: &str) -> String {
        format!("CAST(FLOOR({expr}) AS {})", self.bigint())
    }
}

/// Which query to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Query {
    /// `period, candidate, value`: every candidate's series.
    Series,
    /// `period, candidate, account, value`: each account's part, for the churn test.
    Customers,
}

pub(crate) struct SqlOptions<'a> {
    pub(crate) dialect: Dialect,
    pub(crate) table: &'a str,
    pub(crate) period: PeriodKind,
    pub(crate) as_of: Option<i32>,
    /// With a per-customer revenue table, the customers query keeps only its customers.
    pub(crate) revenue_table: Option<&'a str>,
    pub(crate) revenue_customer_column: &'a str,
}

/// Names inside the generated query.
const ROWS: &str = "nsm_rows";
const CALENDAR: &str = "nsm_periods";

struct Writer<'a> {
    d: Dialect,
    options: &'a SqlOptions<'a>,
    config: &'a Config,
}

impl Writer<'_> {
    /// The key column of a window: the period, or the ISO week.
    fn key(&self, window: Window) -> &'static str {
        match (window, self.options.period) {
            (Window::Week, _) | (Window::Period, PeriodKind::Week) => "week",
            (Window::Period, PeriodKind::Month) => "month",
        }
    }

    fn period_key(&self) -> &'static str {
        self.key(Window::Period)
    }

    fn filter(&self, filter: Option<&EventFilter>) -> String {
        match filter {
            Some(f) if !f.is_any() => {
                let names: Vec<String> = f.events.iter().map(|e| self.d.string(e)).collect();
                format!(" WHERE event IN ({})", names.join(", "))
            }
            _ => String::new(),
        }
    }

    fn entity(entity: Entity) -> &'static str {
        match entity {
            Entity::User => "user_id",
            Entity::Account => "account_id",
        }
    }

    /// The sum of values in whole millionths, as the in-process path sums them.
    fn micro_sum(&self) -> &'static str {
        "COALESCE(SUM(FLOOR(value * 1000000 + 0.5)), 0)"
    }

    /// The start date of a key of a window, for output.
    fn key_date(&self, key: &str, window: Window) -> String {
        match self.key(window) {
            "week" => self.d.date_of_day(&format!("7 * {key} - 3")),
            _ => self.d.month_start(key),
        }
    }

    /// The common rows: one per readable event, with day, week and month.
    fn rows_cte(&self) -> String {
        let d = self.d;
        let cols = &self.config.columns;
        let ts = d.ident(&cols.timestamp);
        let cast = |name: &str| format!("CAST({} AS {})", d.ident(name), d.text());
        // With fallbacks (`user_id = ["user_id", "anonymous_id"]`), the first non-empty one.
        let user = if cols.user_id_fallbacks.is_empty() {
            cast(&cols.user_id)
        } else {
            let tried: Vec<String> = cols
                .user_id_columns()
                .map(|name| format!("NULLIF({}, '')", cast(name)))
                .collect();
            format!("COALESCE({})", tried.join(", "))
        };
        let account = format!(
            "COALESCE(CAST({} AS {}), {user})",
            d.ident(&cols.account_id),
            d.text()
        );
        let day = d.floor_int(&format!("{} / 86400.0", d.epoch_seconds(&ts)));
        let as_of = self
            .options
            .as_of
            .map(|a| format!("\n  WHERE day <= {a}"))
            .unwrap_or_default();
        format!(
            "-- One row per event with a timestamp, a user and an event name; account defaults to the user.\n\
{ROWS}_raw AS (\n  SELECT\n    {day} AS day,\n    {user} AS user_id,\n    {account} AS account_id,\n    CAST({} AS {}) AS event,\n    CAST({} AS {}) AS value\n  FROM {}\n  WHERE {ts} IS NOT NULL AND {user} IS NOT NULL AND {} IS NOT NULL\n),\n\
{ROWS} AS (\n  SELECT\n    day, user_id, account_id, event, value,\n    {} AS week,\n    {} AS month\n  FROM {ROWS}_raw{as_of}\n),\n\
{CALENDAR}_bounds AS (\n  SELECT MIN({key}) AS lo, MAX({key}) AS hi FROM {ROWS}\n),\n\
-- Every period from the first event to the last, for running counts.\n\
{CALENDAR} AS (\n  {}\n)",
            d.ident(&cols.event),
            d.text(),
            d.ident(&cols.value),
            d.double(),
            d.table(self.options.table),
            d.ident(&cols.event),
            d.floor_int("(day + 3) / 7.0"),
            d.month_of_day("day"),
            d.key_range(&format!("{CALENDAR}_bounds")),
            key = self.period_key(),
        )
    }

    /// `(k, value)` per key of the candidate's window; `None` for ratios and cumulative counts,
    /// which are built from other parts.
    fn by_key(&self, candidate: &Candidate) -> Option<String> {
        let d = self.d;
        let double = d.double();
        let filter = self.filter(candidate.kind.filter());
        let sql = match &candidate.kind {
            Kind::EventCount { .. } => {
                let k = self.period_key();
                format!("SELECT {k} AS k, CAST(COUNT(*) AS {double}) AS value FROM {ROWS}{filter} GROUP BY {k}")
            }
            Kind::ValueSum { .. } => {
                let k = self.period_key();
                format!(
                    "SELECT {k} AS k, {} / 1000000.0 AS value FROM {ROWS}{filter} GROUP BY {k}",
                    self.micro_sum()
                )
            }
            Kind::ActiveEntities { entity, window, .. } => {
                let k = self.key(*window);
                format!(
                    "SELECT {k} AS k, CAST(COUNT(DISTINCT {}) AS {double}) AS value FROM {ROWS}{filter} GROUP BY {k}",
                    Self::entity(*entity)
                )
            }
            Kind::ThresholdEntities {
                entity,
                window,
                threshold,
                ..
            } => {
                let k = self.key(*window);
                let e = Self::entity(*entity);
                format!(
                    "SELECT k, CAST(COUNT(*) AS {double}) AS value FROM (\n    SELECT {k} AS k, {e} FROM {ROWS}{filter} GROUP BY {k}, {e} HAVING {}\n  ) qualified GROUP BY k",
                    self.threshold(threshold)
                )
            }
            Kind::TeamEntities {
                window,
                min_members,
                ..
            } => {
                let k = self.key(*window);
                format!(
                    "SELECT k, CAST(COUNT(*) AS {double}) AS value FROM (\n    SELECT {k} AS k, account_id FROM {ROWS}{filter} GROUP BY {k}, account_id HAVING COUNT(DISTINCT user_id) >= {min_members}\n  ) teams GROUP BY k"
                )
            }
            Kind::NewEntities { entity, .. } => self.new_entities(*entity, &filter),
            Kind::ReturningEntities {
                entity,
                within_periods,
                ..
            } => self.returning(Self::entity(*entity), "", *within_periods, &filter),
            Kind::RepeatWithin {
                entity,
                nth,
                within_days,
                ..
            } => self.repeat_within(*entity, *nth, *within_days, &filter, false),
            Kind::CumulativeEntities { .. } | Kind::Ratio { .. } => return None,
        };
        Some(sql)
    }

    fn threshold(&self, threshold: &Threshold) -> String {
        match threshold {
            Threshold::MinCount(n) => format!("COUNT(*) >= {n}"),
            Threshold::MinValue(v) => format!("{} >= {:?}", self.micro_sum(), v * 1e6),
        }
    }

    /// The period key of a day expression.
    fn period_of(&self, day: &str) -> String {
        match self.options.period {
            PeriodKind::Week => self.d.floor_int(&format!("({day} + 3) / 7.0")),
            PeriodKind::Month => self.d.month_of_day(day),
        }
    }

    /// `(k[, account_id], value)`: the entities (`ids`: their columns) active in a period that
    /// were active in an earlier one (at most `within` periods before).
    fn returning(&self, ids: &str, out: &str, within: Option<u32>, filter: &str) -> String {
        let k = self.period_key();
        let double = self.d.double();
        let within = within
            .map(|w| format!(" AND k - prev <= {w}"))
            .unwrap_or_default();
        format!(
            "SELECT k{out}, CAST(COUNT(*) AS {double}) AS value FROM (\n    SELECT k, {ids}, LAG(k) OVER (PARTITION BY {ids} ORDER BY k) AS prev FROM (\n      SELECT {k} AS k, {ids} FROM {ROWS}{filter} GROUP BY {k}, {ids}\n    ) active\n  ) visits WHERE prev IS NOT NULL{within} GROUP BY k{out}"
        )
    }

    /// `(k[, account_id], value)`: entities whose `nth` matching event came within
    /// `within_days` of their first, in the period those days end; entities whose days end
    /// after the last event are not counted. A user belongs to the first of its accounts in
    /// name order.
    fn repeat_within(
        &self,
        entity: Entity,
        nth: u32,
        within_days: u32,
        filter: &str,
        per_account: bool,
    ) -> String {
        let double = self.d.double();
        let e = Self::entity(entity);
        let (columns, account) = match entity {
            Entity::User => (
                "user_id, account_id, day",
                ", MIN(account_id) AS account_id",
            ),
            Entity::Account => ("account_id, day", ""),
        };
        let out = if per_account { ", account_id" } else { "" };
        let end = self.period_of(&format!("first_day + {within_days}"));
        format!(
            "SELECT k{out}, CAST(COUNT(*) AS {double}) AS value FROM (\n    SELECT {end} AS k{out} FROM (\n      SELECT {e}{account}, MIN(day) AS first_day, MIN(CASE WHEN n = {nth} THEN day END) AS nth_day FROM (\n        SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {e} ORDER BY day) AS n FROM {ROWS}{filter}\n      ) numbered GROUP BY {e}\n    ) firsts\n    WHERE first_day + {within_days} <= (SELECT MAX(day) FROM {ROWS}) AND nth_day <= first_day + {within_days}\n  ) repeats GROUP BY k{out}"
        )
    }

    fn new_entities(&self, entity: Entity, filter: &str) -> String {
        let e = Self::entity(entity);
        let k = self.period_key();
        format!(
            "SELECT k, CAST(COUNT(*) AS {}) AS value FROM (\n    SELECT {e}, MIN({k}) AS k FROM {ROWS}{filter} GROUP BY {e}\n  ) firsts GROUP BY k",
            self.d.double()
        )
    }

    /// Weekly values rolled up into months: weeks belong to the month of their Thursday.
    fn rolled_up(&self, weekly: &str, rollup: Rollup) -> String {
        let d = self.d;
        let month = d.month_of_day("7 * k");
        // First and last day of month p, and the weeks whose Thursday (day 7w) falls in it.
        let first = d.day_of_date(&d.month_start("p"));
        let last = format!("({} - 1)", d.day_of_date(&d.month_start("p + 1")));
        let weeks = format!("(FLOOR({last} / 7.0) - FLOOR(({first} - 1) / 7.0))");
        let value = match rollup {
            Rollup::Sum => "SUM(value)".to_string(),
            Rollup::Mean => format!("SUM(value) / {weeks}"),
            Rollup::Last => {
                format!("COALESCE(MAX(CASE WHEN k = FLOOR({last} / 7.0) THEN value END), 0)")
            }
        };
        format!(
            "SELECT p AS k, {value} AS value FROM (\n    SELECT {month} AS p, k, value FROM {weekly}\n  ) weeks GROUP BY p"
        )
    }

    fn cte_name(index: usize) -> String {
        format!("c{index}")
    }

    fn series(&self) -> Result<String> {
        let d = self.d;
        let candidates = &self.config.candidates;
        let index_of = |name: &str| candidates.iter().position(|c| c.name == name);
        let mut out = self.header("one row per candidate and period: period, candidate, value");
        out.push_str("WITH\n");
        out.push_str(&self.rows_cte());
        for (i, candidate) in candidates.iter().enumerate() {
            let name = Self::cte_name(i);
            let _ = write!(
                out,
                ",\n-- {}: {} ({})\n",
                candidate.name.replace('\n', " "),
                candidate.describe().replace('\n', " "),
                candidate.kind.name()
            );
            match &candidate.kind {
                Kind::Ratio {
                    numerator,
                    denominator,
                } => {
                    let (Some(n), Some(dn)) = (index_of(numerator), index_of(denominator)) else {
                        anyhow::bail!("ratio {}: unknown part", candidate.name);
                    };
                    let _ = write!(
                        out,
                        "{name} AS (\n  SELECT den.k, CASE WHEN den.value = 0 THEN 0 ELSE COALESCE(num.value, 0) / den.value END AS value\n  FROM {} den LEFT JOIN {} num ON num.k = den.k\n)",
                        Self::cte_name(dn),
                        Self::cte_name(n)
                    );
                }
                Kind::CumulativeEntities { entity, filter } => {
                    let filter = self.filter(Some(filter));
                    let _ = write!(
                        out,
                        "{name}_new AS (\n  {}\n),\n{name} AS (\n  SELECT cal.k, SUM(COALESCE(n.value, 0)) OVER (ORDER BY cal.k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS value\n  FROM {CALENDAR} cal LEFT JOIN {name}_new n ON n.k = cal.k\n)",
                        self.new_entities(*entity, &filter)
                    );
                }
                kind => {
                    let by_key = self.by_key(candidate).expect("a direct candidate");
                    let (window, rollup) = kind.window();
                    if window == Window::Week && self.options.period == PeriodKind::Month {
                        let _ = write!(
                            out,
                            "{name}_weeks AS (\n  {by_key}\n),\n{name} AS (\n  {}\n)",
                            self.rolled_up(&format!("{name}_weeks"), rollup)
                        );
                    } else {
                        let _ = write!(out, "{name} AS (\n  {by_key}\n)");
                    }
                }
            }
        }
        out.push('\n');
        let period = self.key_date("k", Window::Period);
        let mut selects: Vec<String> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "SELECT {period} AS period, {} AS candidate, CAST(value AS {}) AS value FROM {}",
                    d.string(&c.name),
                    d.double(),
                    Self::cte_name(i)
                )
            })
            .collect();
        // The first and last event days (and the number of events) let nsm drop incomplete
        // periods as it does when it reads the events itself.
        selects.push(format!(
            "SELECT {} AS period, {} AS candidate, CAST(COUNT(*) AS {}) AS value FROM {ROWS}",
            d.date_of_day("MIN(day)"),
            d.string(FIRST_EVENT),
            d.double()
        ));
        selects.push(format!(
            "SELECT {} AS period, {} AS candidate, CAST(0 AS {}) AS value FROM {ROWS}",
            d.date_of_day("MAX(day)"),
            d.string(LAST_EVENT),
            d.double()
        ));
        let _ = write!(
            out,
            "SELECT period, candidate, value FROM (\n  {}\n) series\nORDER BY candidate, period;\n",
            selects.join("\n  UNION ALL\n  ")
        );
        Ok(out)
    }

    /// Per account and key: each account's part of the candidate (the churn test's input).
    fn customers(&self) -> String {
        let d = self.d;
        let double = d.double();
        let mut out = self.header(
            "each account's part of every candidate per period (week for weekly windows): period, candidate, account, value",
        );
        out.push_str("WITH\n");
        out.push_str(&self.rows_cte());
        let customers_filter = self.options.revenue_table.map(|table| {
            format!(
                ",\n-- Only accounts that are customers in the revenue table.\nnsm_customers AS (\n  SELECT DISTINCT CAST({} AS {}) AS account_id FROM {}\n)",
                d.ident(self.options.revenue_customer_column),
                d.text(),
                d.table(table)
            )
        });
        out.push_str(customers_filter.as_deref().unwrap_or(""));
        let mut selects = Vec::new();
        for (i, candidate) in self.config.candidates.iter().enumerate() {
            let filter = self.filter(candidate.kind.filter());
            let (window, sql) = match &candidate.kind {
                Kind::Ratio { .. } => continue,
                Kind::EventCount { .. } => (
                    Window::Period,
                    format!("SELECT {k} AS k, account_id, CAST(COUNT(*) AS {double}) AS value FROM {ROWS}{filter} GROUP BY {k}, account_id", k = self.period_key()),
                ),
                Kind::ValueSum { .. } => (
                    Window::Period,
                    format!(
                        "SELECT {k} AS k, account_id, {} / 1000000.0 AS value FROM {ROWS}{filter} GROUP BY {k}, account_id",
                        self.micro_sum(),
                        k = self.period_key()
                    ),
                ),
                Kind::ActiveEntities { entity, window, .. } => {
                    let k = self.key(*window);
                    let value = match entity {
                        Entity::User => format!("CAST(COUNT(DISTINCT user_id) AS {double})"),
                        Entity::Account => format!("CAST(1 AS {double})"),
                    };
                    (
                        *window,
                        format!("SELECT {k} AS k, account_id, {value} AS value FROM {ROWS}{filter} GROUP BY {k}, account_id"),
                    )
                }
                Kind::ThresholdEntities {
                    entity,
                    window,
                    threshold,
                    ..
                } => {
                    let k = self.key(*window);
                    let having = self.threshold(threshold);
                    let sql = match entity {
                        Entity::User => format!(
                            "SELECT k, account_id, CAST(COUNT(*) AS {double}) AS value FROM (\n    SELECT {k} AS k, account_id, user_id FROM {ROWS}{filter} GROUP BY {k}, account_id, user_id HAVING {having}\n  ) qualified GROUP BY k, account_id"
                        ),
                        Entity::Account => format!(
                            "SELECT {k} AS k, account_id, CAST(1 AS {double}) AS value FROM {ROWS}{filter} GROUP BY {k}, account_id HAVING {having}"
                        ),
                    };
                    (*window, sql)
                }
                Kind::TeamEntities {
                    window,
                    min_members,
                    ..
                } => {
                    let k = self.key(*window);
                    (
                        *window,
                        format!("SELECT {k} AS k, account_id, CAST(1 AS {double}) AS value FROM {ROWS}{filter} GROUP BY {k}, account_id HAVING COUNT(DISTINCT user_id) >= {min_members}"),
                    )
                }
                Kind::ReturningEntities {
                    entity,
                    within_periods,
                    ..
                } => {
                    let ids = match entity {
                        Entity::User => "account_id, user_id",
                        Entity::Account => "account_id",
                    };
                    (
                        Window::Period,
                        self.returning(ids, ", account_id", *within_periods, &filter),
                    )
                }
                Kind::RepeatWithin {
                    entity,
                    nth,
                    within_days,
                    ..
                } => (
                    Window::Period,
                    self.repeat_within(*entity, *nth, *within_days, &filter, true),
                ),
                Kind::NewEntities { entity, .. } | Kind::CumulativeEntities { entity, .. } => {
                    let k = self.period_key();
                    let firsts = match entity {
                        Entity::User => format!("SELECT user_id, MIN({k}) AS k, MIN(account_id) AS account_id FROM {ROWS}{filter} GROUP BY user_id"),
                        Entity::Account => format!("SELECT account_id, MIN({k}) AS k FROM {ROWS}{filter} GROUP BY account_id"),
                    };
                    (
                        Window::Period,
                        format!("SELECT k, account_id, CAST(COUNT(*) AS {double}) AS value FROM (\n    {firsts}\n  ) firsts GROUP BY k, account_id"),
                    )
                }
            };
            let name = Self::cte_name(i);
            let _ = write!(
                out,
                ",\n-- {}: {} ({})\n{name} AS (\n  {sql}\n)",
                candidate.name.replace('\n', " "),
                candidate.describe().replace('\n', " "),
                candidate.kind.name()
            );
            let only_customers = if self.options.revenue_table.is_some() {
                " WHERE account_id IN (SELECT account_id FROM nsm_customers)"
            } else {
                ""
            };
            selects.push(format!(
                "SELECT {} AS period, {} AS candidate, account_id AS account, CAST(value AS {double}) AS value FROM {name}{only_customers}",
                self.key_date("k", window),
                d.string(&candidate.name),
            ));
        }
        if selects.is_empty() {
            selects.push(format!(
                "SELECT CAST(NULL AS DATE) AS period, CAST(NULL AS {t}) AS candidate, CAST(NULL AS {t}) AS account, CAST(NULL AS {double}) AS value FROM {ROWS} WHERE 1 = 0",
                t = d.text()
            ));
        }
        let _ = write!(
            out,
            "\nSELECT period, candidate, account, value FROM (\n  {}\n) parts\nORDER BY candidate, period, account;\n",
            selects.join("\n  UNION ALL\n  ")
        );
        out
    }

    fn header(&self, what: &str) -> String {
        let cols = &self.config.columns;
        format!(
            "-- nsm sql ({dialect}, {period} periods{as_of}): {what}.\n\
-- Events from {table}: timestamp {ts}, user {user}, account {account}, event {event}, value {value}.\n\
-- Times are UTC days; ISO weeks run Monday to Sunday and belong to the month of their Thursday.\n",
            dialect = self.d.name(),
            period = self.options.period.name(),
            as_of = self
                .options
                .as_of
                .map(|a| format!(", as of {}", crate::period::format_day(a)))
                .unwrap_or_default(),
            table = self.options.table,
            ts = cols.timestamp,
            user = cols.user_id,
            account = cols.account_id,
            event = cols.event,
            value = cols.value,
        )
    }
}

/// The series query, or the customers query.
pub(crate) fn generate(config: &Config, options: &SqlOptions, query: Query) -> Result<String> {
    let writer = Writer {
        d: options.dialect,
        options,
        config,
    };
    match query {
        Query::Series => writer.series(),
        Query::Customers => Ok(writer.customers()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted_per_dialect() {
        let name = "it's \"x\" `y` \\z";
        assert_eq!(Dialect::Duckdb.string(name), "'it''s \"x\" `y` \\z'");
        assert_eq!(Dialect::Postgres.string(name), "'it''s \"x\" `y` \\z'");
        assert_eq!(Dialect::Snowflake.string(name), "'it''s \"x\" `y` \\\\z'");
        assert_eq!(Dialect::Bigquery.string(name), "'it\\'s \"x\" `y` \\\\z'");
        assert_eq!(Dialect::Spark.string(name), "'it\\'s \"x\" `y` \\\\z'");
        assert_eq!(Dialect::Duckdb.ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Spark.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Bigquery.ident("a`b"), "`a\\`b`");
        assert_eq!(
            Dialect::Postgres.table("analytics.events"),
            "\"analytics\".\"events\""
        );
        assert_eq!(Dialect::Spark.string("a\nb"), "'a\\nb'");
    }

    fn mapped_config() -> Config {
        Config::parse(
            "[events]\ntimestamp = \"Event Time\"\nuser_id = \"uid\"\naccount_id = \"org\"\nevent = \"name\"\nvalue = \"amount\"\n\n\
             [[candidate]]\nname = \"meetings\"\nkind = \"event_count\"\nevent = \"meeting\"\n",
            "nsm.toml",
        )
        .unwrap()
    }

    fn options(dialect: Dialect) -> SqlOptions<'static> {
        SqlOptions {
            dialect,
            table: "analytics.events",
            period: PeriodKind::Month,
            as_of: None,
            revenue_table: Some("billing.revenue"),
            revenue_customer_column: "customer_id",
        }
    }

    #[test]
    fn the_events_mapping_is_read_and_the_sql_is_deterministic() {
        let config = mapped_config();
        for dialect in [
            Dialect::Duckdb,
            Dialect::Postgres,
            Dialect::Bigquery,
            Dialect::Snowflake,
            Dialect::Spark,
        ] {
            let options = options(dialect);
            let series = generate(&config, &options, Query::Series).unwrap();
            for column in ["Event Time", "uid", "org", "name", "amount"] {
                assert!(
                    series.contains(&dialect.ident(column)),
                    "{dialect:?}: {column} in {series}"
                );
            }
            assert!(series.contains(&dialect.table("analytics.events")));
            assert_eq!(series, generate(&config, &options, Query::Series).unwrap());
            let customers = generate(&config, &options, Query::Customers).unwrap();
            assert!(customers.contains(&dialect.table("billing.revenue")));
            assert!(customers.contains(&dialect.ident("customer_id")));
        }
    }
}
