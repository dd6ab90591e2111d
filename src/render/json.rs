use anyhow::Result;

use super::Render;
use crate::evaluation::Evaluation;

pub(crate) struct Json;

impl Render<Evaluation> for Json {
    fn render(&self, evaluation: &Evaluation) -> Result<String> {
        let mut text = serde_json::to_string_pretty(evaluation)?;
        text.push('\n');
        Ok(text)
    }
}
