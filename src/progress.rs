//! Progress on stderr: stage messages and live counters for a person at a terminal.

/// Stage messages and progress bars on stderr, only for a person at a terminal (never in a
/// pipe, a CI log or the output itself).
///
/// `NSM_TIMINGS=1` prints every stage with the seconds since the start, terminal or not (for
/// profiling; see BENCHMARKS.md), and no bars.
pub struct Progress {
    enabled: bool,
    timings: Option<std::time::Instant>,
}

/// A live count on the terminal (a spinner with a rate, or a bar when the total is known);
/// does nothing when progress is not shown. Cleared when the last clone is dropped.
#[derive(Clone)]
pub struct Counter(Option<indicatif::ProgressBar>);

impl Counter {
    pub fn hidden() -> Self {
        Counter(None)
    }

    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        use std::io::IsTerminal;
        let timings = std::env::var_os("NSM_TIMINGS").is_some_and(|v| v == "1");
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            timings: timings.then(std::time::Instant::now),
        }
    }

    /// A counter of `unit` (e.g. "events") under `message`, out of `total` when known.
    pub fn counter(&self, message: &str, unit: &str, total: Option<u64>) -> Counter {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
        if !self.enabled || self.timings.is_some() {
            return Counter::hidden();
        }
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                format!("nsm: {message} [{{bar:30}}] {{pos}}/{{len}} {unit}"),
            ),
            None => (
                ProgressBar::new_spinner(),
                format!("nsm: {{spinner}} {message}: {{human_pos}} {unit} ({{rate}}), {{elapsed}}"),
            ),
        };
        let bar = bar.with_finish(ProgressFinish::AndClear);
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        if let Ok(style) = ProgressStyle::with_template(&template) {
            let rate = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}M/s", state.per_sec() / 1e6);
            };
            bar.set_style(style.progress_chars("=> ").with_key("rate", rate));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Counter(Some(bar))
    }

    /// A warning: shown whatever the progress setting, since it may explain why a run stops.
    pub fn warning(&self, message: &str) {
        eprintln!("nsm: warning: {message}");
    }

    pub fn stage(&self, message: &str) {
        if let Some(start) = self.timings {
            eprintln!("nsm: [{:8.3} s] {message}", start.elapsed().as_secs_f64());
        } else if self.enabled {
            eprintln!("nsm: {message}");
        }
    }
}
