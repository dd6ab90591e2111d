use anyhow::Result;

use super::{labels, Render};
use crate::evaluation::Evaluation;

pub(crate) struct Csv;

const HEADER: [&str; 26] = [
    "rank",
    "name",
    "kind",
    "score",
    "verdict",
    "labels",
    "lead_verdict",
    "best_lag",
    "r",
    "p_value",
    "p_adjusted",
    "reverse_best_lag",
    "reverse_r",
    "granger_f",
    "granger_p",
    "churn_verdict",
    "divergence_rate",
    "divergence_p",
    "churn_corr",
    "churner_weight",
    "residual",
    "accounts_verdict",
    "accounts_horizon",
    "accounts_retention_ratio",
    "accounts_p_adjusted",
    "explanation",
];

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl Render<Evaluation> for Csv {
    fn render(&self, evaluation: &Evaluation) -> Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(HEADER)?;
        for c in &evaluation.candidates {
            let lead = c.lead.as_ref();
            let churn = c.churn.as_ref();
            let accounts = c.accounts.as_ref();
            writer.write_record([
                opt(c.rank),
                c.name.clone(),
                c.kind.name().to_string(),
                opt(c.score),
                c.verdict.name().to_string(),
                labels(&c.labels),
                opt(lead.map(|l| l.verdict.name())),
                opt(lead.and_then(|l| l.best_lag)),
                opt(lead.and_then(|l| l.r)),
                opt(lead.and_then(|l| l.p_value)),
                opt(lead.and_then(|l| l.p_adjusted)),
                opt(lead.and_then(|l| l.reverse_best_lag)),
                opt(lead.and_then(|l| l.reverse_r)),
                opt(lead.and_then(|l| l.granger_f)),
                opt(lead.and_then(|l| l.granger_p)),
                opt(churn.map(|c| c.verdict.name())),
                opt(churn.and_then(|c| c.divergence_rate)),
                opt(churn.and_then(|c| c.divergence_p)),
                opt(churn.and_then(|c| c.churn_corr)),
                opt(churn.and_then(|c| c.churner_weight)),
                opt(churn.and_then(|c| c.residual)),
                opt(accounts.map(|a| a.verdict.name())),
                opt(accounts.and_then(|a| a.horizon)),
                opt(accounts.and_then(|a| a.retention_ratio)),
                opt(accounts.and_then(|a| a.p_adjusted)),
                c.explanation.clone(),
            ])?;
        }
        Ok(String::from_utf8(writer.into_inner()?)?)
    }
}
