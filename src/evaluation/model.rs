//! The JSON model of an evaluation: field names are the contract (SPEC "JSON output",
//! `schema_version` 1). Written by every output format and read back, typed, by `check
//! --baseline` and `report --compare`.

use serde::{Deserialize, Serialize};

use crate::candidates::KindName;
use crate::error::InputError;
use crate::ingest::bad_row::BadRow;
use crate::stats::score::{Label, Verdict};

pub const SCHEMA_VERSION: u32 = 1;

/// Only the version of a saved file, read before the rest.
#[derive(Deserialize)]
struct Version {
    schema_version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsOut {
    pub period: String,
    pub lag_min: u32,
    pub lag_max: u32,
    pub alpha: f64,
    pub seed: u64,
    pub surrogates: usize,
    pub seasonal: bool,
    pub as_of: Option<String>,
}

/// Customer counts of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomersOut {
    pub period: String,
    pub paying: f64,
    pub new: f64,
    pub reactivated: f64,
    pub churned: f64,
    pub churn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataOut {
    pub events_rows: u64,
    pub revenue_rows: u64,
    pub first_period: String,
    pub last_period: String,
    pub n_periods: usize,
    pub churn_source: String,
    pub skipped_rows: u64,
    pub skipped_examples: Vec<BadRow>,
    pub notes: Vec<String>,
    /// Paying customers per period (or active accounts, when churn comes from activity).
    pub customers: Vec<CustomersOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadOut {
    pub verdict: Verdict,
    /// The lead test's part of the candidate's explanation.
    pub explanation: String,
    pub best_lag: Option<usize>,
    pub r: Option<f64>,
    pub p_value: Option<f64>,
    /// The correlation the best lag must exceed for `p <= alpha` under the surrogate null.
    pub null_r: Option<f64>,
    pub reverse_best_lag: Option<usize>,
    pub reverse_r: Option<f64>,
    pub reverse_p_value: Option<f64>,
    pub same_period_r: Option<f64>,
    pub granger_f: Option<f64>,
    pub granger_p: Option<f64>,
    pub granger_lags: Option<usize>,
    pub reverse_granger_f: Option<f64>,
    pub reverse_granger_p: Option<f64>,
    pub n_periods: usize,
    pub needs_more_periods: Option<usize>,
    pub seasonally_adjusted: bool,
    /// Correlation at the best lag in the latest 24 months, and before them.
    pub recent_r: Option<f64>,
    pub earlier_r: Option<f64>,
    /// Cross-correlation by lag, metric leading: `[lag, r]` pairs.
    pub by_lag: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnOut {
    pub verdict: Verdict,
    /// The churn test's part of the candidate's explanation.
    pub explanation: String,
    pub divergence_rate: Option<f64>,
    pub divergence_p: Option<f64>,
    pub churn_periods: usize,
    pub rose_in: usize,
    pub churn_corr: Option<f64>,
    pub churner_weight: Option<f64>,
    /// 95% bootstrap interval over customers.
    pub churner_weight_ci: Option<[f64; 2]>,
    pub churner_weight_note: Option<String>,
    pub residual: Option<f64>,
    pub monotone: bool,
    /// Share of the metric from the top 1% of accounts (with at least 100 contributing).
    pub top1_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub period: String,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateOut {
    pub name: String,
    pub kind: KindName,
    pub description: String,
    pub rank: Option<usize>,
    pub score: Option<f64>,
    pub verdict: Verdict,
    pub labels: Vec<Label>,
    pub explanation: String,
    pub actionability: Option<f64>,
    pub lead: Option<LeadOut>,
    pub churn: Option<ChurnOut>,
    pub series: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub schema_version: u32,
    pub tool: Tool,
    pub settings: SettingsOut,
    pub data: DataOut,
    pub recommended: Option<String>,
    pub recommendation: String,
    pub north_star: Option<String>,
    pub candidates: Vec<CandidateOut>,
}

impl Evaluation {
    pub fn candidate(&self, name: &str) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.name == name)
    }

    /// Candidates in rank order, without the revenue reference row.
    pub fn ranked(&self) -> impl Iterator<Item = &CandidateOut> {
        self.candidates.iter().filter(|c| c.rank.is_some())
    }

    /// The revenue reference row: revenue per period, the series every candidate is tested
    /// against.
    pub fn revenue(&self) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.kind == KindName::Revenue)
    }

    /// Read a saved `nsm evaluate --format json` back into the model it was written from.
    ///
    /// `role` names the file in messages ("baseline", "--compare").
    pub fn read_saved(text: &str, role: &str, source: &str) -> Result<Evaluation, InputError> {
        let not_json = |e: serde_json::Error| {
            InputError::at(
                &format!("{role} {source}"),
                Some(e.line() as u64),
                None,
                None,
                format!("not JSON: {e}"),
            )
        };
        let not_ours = || {
            InputError::new(format!(
                "{role} {source}: not an nsm evaluation (schema_version {SCHEMA_VERSION}); save one with `nsm evaluate --format json --output {source}`"
            ))
        };
        // The version first: a file of another kind or version gets that message, not a
        // complaint about its first unexpected field.
        let version: Version = serde_json::from_str(text).map_err(not_json)?;
        if version.schema_version != Some(SCHEMA_VERSION) {
            return Err(not_ours());
        }
        serde_json::from_str(text).map_err(|e| {
            InputError::at(
                &format!("{role} {source}"),
                Some(e.line() as u64),
                None,
                None,
                format!("not an nsm evaluation: {e}"),
            )
        })
    }
}
