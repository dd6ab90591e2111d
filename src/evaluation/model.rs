//! The JSON model of an evaluation: field names are the contract (SPEC "JSON output",
//! `schema_version` 1). Written by every output format and read back, typed, by `check
//! --baseline` and `report --compare`.

use serde::{Deserialize, Serialize};

use crate::candidates::KindName;
use crate::error::InputError;
use crate::ingest::bad_row::BadRow;
use crate::stats::score::{Label, Verdict};

pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Only the version of a saved file, read before the rest.
#[derive(Deserialize)]
struct Version {
    schema_version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tool {
    pub(crate) name: String,
    pub(crate) version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SettingsOut {
    pub(crate) period: String,
    pub(crate) lag_min: u32,
    pub(crate) lag_max: u32,
    pub(crate) alpha: f64,
    pub(crate) seed: u64,
    pub(crate) surrogates: usize,
    pub(crate) seasonal: bool,
    pub(crate) as_of: Option<String>,
}

/// Customer counts of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CustomersOut {
    pub(crate) period: String,
    pub(crate) paying: f64,
    pub(crate) new: f64,
    pub(crate) reactivated: f64,
    pub(crate) churned: f64,
    pub(crate) churn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataOut {
    pub(crate) events_rows: u64,
    pub(crate) revenue_rows: u64,
    pub(crate) first_period: String,
    pub(crate) last_period: String,
    pub(crate) n_periods: usize,
    pub(crate) churn_source: String,
    pub(crate) skipped_rows: u64,
    pub(crate) skipped_examples: Vec<BadRow>,
    pub(crate) notes: Vec<String>,
    /// Paying customers per period (or active accounts, when churn comes from activity).
    pub(crate) customers: Vec<CustomersOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeadOut {
    pub(crate) verdict: Verdict,
    /// The lead test's part of the candidate's explanation.
    pub(crate) explanation: String,
    pub(crate) best_lag: Option<usize>,
    pub(crate) r: Option<f64>,
    pub(crate) p_value: Option<f64>,
    /// The correlation the best lag must exceed for `p <= alpha` under the surrogate null.
    pub(crate) null_r: Option<f64>,
    pub(crate) reverse_best_lag: Option<usize>,
    pub(crate) reverse_r: Option<f64>,
    pub(crate) reverse_p_value: Option<f64>,
    pub(crate) same_period_r: Option<f64>,
    pub(crate) granger_f: Option<f64>,
    pub(crate) granger_p: Option<f64>,
    pub(crate) granger_lags: Option<usize>,
    pub(crate) reverse_granger_f: Option<f64>,
    pub(crate) reverse_granger_p: Option<f64>,
    pub(crate) n_periods: usize,
    pub(crate) needs_more_periods: Option<usize>,
    pub(crate) seasonally_adjusted: bool,
    /// Correlation at the best lag in the latest 24 months, and before them.
    pub(crate) recent_r: Option<f64>,
    pub(crate) earlier_r: Option<f64>,
    /// Cross-correlation by lag, metric leading: `[lag, r]` pairs.
    pub(crate) by_lag: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChurnOut {
    pub(crate) verdict: Verdict,
    /// The churn test's part of the candidate's explanation.
    pub(crate) explanation: String,
    pub(crate) divergence_rate: Option<f64>,
    pub(crate) divergence_p: Option<f64>,
    pub(crate) churn_periods: usize,
    pub(crate) rose_in: usize,
    pub(crate) churn_corr: Option<f64>,
    pub(crate) churner_weight: Option<f64>,
    /// 95% bootstrap interval over customers.
    pub(crate) churner_weight_ci: Option<[f64; 2]>,
    pub(crate) churner_weight_note: Option<String>,
    pub(crate) residual: Option<f64>,
    pub(crate) monotone: bool,
    /// Share of the metric from the top 1% of accounts (with at least 100 contributing).
    pub(crate) top1_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point {
    pub(crate) period: String,
    pub(crate) value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CandidateOut {
    pub(crate) name: String,
    pub(crate) kind: KindName,
    pub(crate) description: String,
    pub(crate) rank: Option<usize>,
    pub(crate) score: Option<f64>,
    pub(crate) verdict: Verdict,
    pub(crate) labels: Vec<Label>,
    pub(crate) explanation: String,
    pub(crate) actionability: Option<f64>,
    pub(crate) lead: Option<LeadOut>,
    pub(crate) churn: Option<ChurnOut>,
    pub(crate) series: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Evaluation {
    pub(crate) schema_version: u32,
    pub(crate) tool: Tool,
    pub(crate) settings: SettingsOut,
    pub(crate) data: DataOut,
    pub(crate) recommended: Option<String>,
    pub(crate) recommendation: String,
    pub(crate) north_star: Option<String>,
    pub(crate) candidates: Vec<CandidateOut>,
}

impl Evaluation {
    pub(crate) fn candidate(&self, name: &str) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.name == name)
    }

    /// Candidates in rank order, without the revenue reference row.
    pub(crate) fn ranked(&self) -> impl Iterator<Item = &CandidateOut> {
        self.candidates.iter().filter(|c| c.rank.is_some())
    }

    /// The revenue reference row: revenue per period, the series every candidate is tested
    /// against.
    pub(crate) fn revenue(&self) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.kind == KindName::Revenue)
    }

    /// Read a saved `nsm evaluate --format json` back into the model it was written from.
    ///
    /// `role` names the file in messages ("baseline", "--compare").
    pub(crate) fn read_saved(
        text: &str,
        role: &str,
        source: &str,
    ) -> Result<Evaluation, InputError> {
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
