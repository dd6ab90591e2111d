//! Bad input: exit code 2, one clear message naming file, line, column and value, no panic,
//! no output file.

use std::path::{Path, PathBuf};

use crate::common::{data, nsm};

struct Case {
    events: PathBuf,
    revenue: PathBuf,
    config: Option<PathBuf>,
    extra: Vec<String>,
}

impl Case {
    fn tiny() -> Self {
        Self {
            events: data("tiny_events.csv"),
            revenue: data("tiny_revenue_customers.csv"),
            config: Some(data("tiny_nsm.toml")),
            extra: vec![],
        }
    }

    /// Run, expect exit 2 and every fragment in stderr, and no output file.
    fn fails_with(&self, fragments: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.json");
        let mut cmd = nsm();
        cmd.arg("evaluate")
            .arg("--events")
            .arg(&self.events)
            .arg("--revenue")
            .arg(&self.revenue);
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(&self.extra)
            .arg("--output")
            .arg(&output)
            .args(["--surrogates", "19"]);
        let inputs: Vec<&PathBuf> = [&self.events, &self.revenue]
            .into_iter()
            .chain(&self.config)
            .collect();
        let before: Vec<Option<Vec<u8>>> = inputs.iter().map(|p| std::fs::read(p).ok()).collect();
        let result = cmd.output().unwrap();
        let after: Vec<Option<Vec<u8>>> = inputs.iter().map(|p| std::fs::read(p).ok()).collect();
        assert!(before == after, "inputs are never modified");
        assert_input_error(&result, &output, fragments);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary files left"
        );
    }
}

/// Exit 2, every fragment on one stderr line, no panic, no output file.
fn assert_input_error(result: &std::process::Output, output: &Path, fragments: &[&str]) {
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "expected '{fragment}' in: {stderr}"
        );
    }
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!output.exists(), "no output file on error");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn missing_events_file() {
    let mut case = Case::tiny();
    case.events = PathBuf::from("no/such/events.csv");
    case.fails_with(&["events file no/such/events.csv", "cannot open"]);
}

#[test]
fn directory_instead_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.events = dir.path().to_path_buf();
    case.fails_with(&["is a directory"]);
}

#[test]
fn empty_events_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.events = write(dir.path(), "events.csv", "");
    case.fails_with(&["events.csv", "is empty"]);
}

#[test]
fn header_only_events_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.events = write(
        dir.path(),
        "events.csv",
        "timestamp,user_id,account_id,event,value\n",
    );
    case.fails_with(&["events.csv", "no event rows"]);
}

#[test]
fn missing_required_column_lists_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.events = write(
        dir.path(),
        "events.csv",
        "ts,user_id,event\n2024-01-01,u1,x\n",
    );
    case.fails_with(&[
        "missing column 'timestamp'",
        "columns found: ts, user_id, event",
        "[events] timestamp =",
    ]);
}

#[test]
fn unparsable_timestamp_names_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let broken = text.replacen("2024-02-14T10:00:00Z", "14/02/2024 10:00", 1);
    let mut case = Case::tiny();
    case.events = write(dir.path(), "events.csv", &broken);
    case.fails_with(&[
        "events.csv, line 9, column 'timestamp', value '14/02/2024 10:00'",
        "--skip-bad-rows",
    ]);
}

#[test]
fn mixed_timestamp_formats_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let broken = text.replacen("2024-02-14T10:00:00Z", "1707904800", 1);
    let mut case = Case::tiny();
    case.events = write(dir.path(), "events.csv", &broken);
    case.fails_with(&["line 9", "value '1707904800'", "different format"]);
}

#[test]
fn non_numeric_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let broken = text.replacen("meeting,10", "meeting,ten", 1);
    let mut case = Case::tiny();
    case.events = write(dir.path(), "events.csv", &broken);
    case.fails_with(&[
        "line 9",
        "column 'value'",
        "value 'ten'",
        "not a finite number",
    ]);
}

#[test]
fn unrecognised_revenue_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.revenue = write(dir.path(), "revenue.csv", "month,mrr\n2024-01,10\n");
    case.fails_with(&[
        "revenue.csv",
        "unrecognised header (month, mrr)",
        "period,revenue",
    ]);
}

#[test]
fn negative_months_in_revenue() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.revenue = write(
        dir.path(),
        "revenue.csv",
        "date,customer_id,amount,months\n2024-01-05,a1,10,\n2024-02-05,a1,10,-3\n",
    );
    case.fails_with(&["revenue.csv, line 3, column 'months', value '-3'"]);
}

#[test]
fn unknown_config_key_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.config = Some(write(
        dir.path(),
        "nsm.toml",
        "[[candidate]]\nname = \"a\"\nkind = \"event_count\"\ncolour = \"red\"\n",
    ));
    case.fails_with(&["nsm.toml, line 4", "unknown field `colour`"]);
}

#[test]
fn unknown_kind_in_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.config = Some(write(
        dir.path(),
        "nsm.toml",
        "[[candidate]]\nname = \"a\"\nkind = \"magic\"\n",
    ));
    case.fails_with(&["candidate 'a'", "unknown kind 'magic'"]);
}

#[test]
fn duplicate_candidate_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    let one = "[[candidate]]\nname = \"a\"\nkind = \"event_count\"\n";
    case.config = Some(write(dir.path(), "nsm.toml", &format!("{one}{one}")));
    case.fails_with(&["candidate 'a' is declared twice"]);
}

#[test]
fn reversed_lag_range() {
    let mut case = Case::tiny();
    case.extra = vec!["--lags".into(), "12..3".into()];
    case.fails_with(&["12..3"]);
}

#[test]
fn lags_longer_than_the_data() {
    let mut case = Case::tiny();
    // Three months of data: a 2-month lag leaves no pair of growth values.
    case.extra = vec!["--lags".into(), "1..2".into()];
    case.fails_with(&[
        "--lags 1..2",
        "longer than the data",
        "3 analysed months (2024-01 to 2024-03)",
    ]);
}

#[test]
fn no_overlap_between_events_and_revenue() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.revenue = write(
        dir.path(),
        "revenue.csv",
        "period,revenue\n2020-01,10\n2020-02,12\n",
    );
    case.fails_with(&["no complete month in common"]);
}

#[test]
fn as_of_before_the_data() {
    let mut case = Case::tiny();
    case.extra = vec!["--as-of".into(), "2023-06-30".into()];
    case.fails_with(&["no rows on or before --as-of"]);
}

#[test]
fn revenue_customers_matching_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.revenue = write(
        dir.path(),
        "revenue.csv",
        "date,customer_id,amount\n2024-01-05,zz1,10\n2024-02-05,zz1,10\n2024-03-05,zz1,10\n",
    );
    case.fails_with(&["no customer_id matches an account"]);
}

#[test]
fn ragged_row_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let broken = text.replacen("u4,a2,meeting,10", "u4,a2,meeting,10,extra", 1);
    let mut case = Case::tiny();
    case.events = write(dir.path(), "events.csv", &broken);
    case.fails_with(&["events.csv, line 9", "has 6 fields where the header has 5"]);
}

#[test]
fn truncated_gzip() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&std::fs::read(data("tiny_events.csv")).unwrap())
        .unwrap();
    let bytes = encoder.finish().unwrap();
    let path = dir.path().join("events.csv.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let mut case = Case::tiny();
    case.events = path;
    case.fails_with(&["events.csv.gz", "is the file complete?"]);
}

#[test]
fn wrong_delimiter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    let text = std::fs::read_to_string(data("tiny_events.csv"))
        .unwrap()
        .replace(',', ";");
    case.events = write(dir.path(), "events.csv", &text);
    case.fails_with(&[
        "missing column 'timestamp'",
        "is --delimiter right for this file?",
    ]);
}

#[test]
fn nan_and_infinite_values() {
    for bad in ["NaN", "inf"] {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
        let broken = text.replacen("meeting,10", &format!("meeting,{bad}"), 1);
        let mut case = Case::tiny();
        case.events = write(dir.path(), "events.csv", &broken);
        case.fails_with(&[
            "line 9",
            "column 'value'",
            &format!("value '{bad}'"),
            "not a finite number",
        ]);
    }
}

#[test]
fn config_missing_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.config = Some(write(
        dir.path(),
        "nsm.toml",
        "[[candidate]]\nname = \"t\"\nkind = \"threshold_entities\"\nentity = \"account\"\n",
    ));
    case.fails_with(&["candidate 't'", "missing field 'min_count'"]);
}

#[test]
fn ratio_of_an_unknown_candidate_and_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = Case::tiny();
    case.config = Some(write(dir.path(), "nsm.toml", "[[candidate]]\nname = \"r\"\nkind = \"ratio\"\nnumerator = \"nope\"\ndenominator = \"r\"\n"));
    case.fails_with(&["candidate 'r'", "unknown candidate 'nope'"]);
    let cycle = "[[candidate]]\nname = \"a\"\nkind = \"ratio\"\nnumerator = \"b\"\ndenominator = \"b\"\n\
                 [[candidate]]\nname = \"b\"\nkind = \"ratio\"\nnumerator = \"a\"\ndenominator = \"a\"\n";
    case.config = Some(write(dir.path(), "nsm.toml", cycle));
    case.fails_with(&["ratios form a cycle: a -> b -> a"]);
}

#[test]
fn parquet_with_wrong_column_types() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let mut frame = df!(
        "timestamp" => [true, false],
        "user_id" => ["u1", "u2"],
        "event" => ["x", "y"],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    let mut case = Case::tiny();
    case.events = path;
    case.fails_with(&["events.parquet", "column 'timestamp'", "has type bool"]);
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed pseudo-random byte string (xorshift), not valid UTF-8.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, bytes).unwrap();
    let mut case = Case::tiny();
    case.events = path;
    case.fails_with(&["events.csv"]);
}

/// `evaluate --series` with the given series (and customers) text on the tiny revenue and config:
/// exit 2, every fragment on one stderr line, no output file.
fn series_fails(series: &str, customers: Option<&str>, extra: &[&str], fragments: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let series_path = write(dir.path(), "series.csv", series);
    let output = dir.path().join("out.json");
    let mut cmd = nsm();
    cmd.args(["evaluate", "--surrogates", "19", "--series"])
        .arg(&series_path)
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .arg("--config")
        .arg(data("tiny_nsm.toml"))
        .arg("--output")
        .arg(&output);
    if let Some(text) = customers {
        cmd.arg("--customers")
            .arg(write(dir.path(), "customers.csv", text));
    }
    let result = cmd.args(extra).output().unwrap();
    assert_input_error(&result, &output, fragments);
}

#[test]
fn series_files_with_mistakes() {
    // A candidate the config does not declare.
    series_fails(
        "period,candidate,value\n2024-01-01,nope,1\n",
        None,
        &[],
        &[
            "series.csv, line 2, column 'candidate', value 'nope'",
            "not a candidate",
        ],
    );
    // A period that does not start a month.
    series_fails(
        "period,candidate,value\n2024-01-15,meetings,1\n",
        None,
        &[],
        &[
            "line 2, column 'period', value '2024-01-15'",
            "same --period",
        ],
    );
    // Not a number.
    series_fails(
        "period,candidate,value\n2024-01-01,meetings,many\n",
        None,
        &[],
        &["line 2, column 'value', value 'many'"],
    );
    // Candidates of the config without rows.
    series_fails(
        "period,candidate,value\n2024-01-01,meetings,4\n",
        None,
        &[],
        &["no rows for candidate(s)", "meeting_minutes"],
    );
    // The wrong columns.
    series_fails(
        "month,name,value\n2024-01-01,meetings,4\n",
        None,
        &[],
        &[
            "missing column 'period'",
            "columns found: month, name, value",
        ],
    );
    // A ratio has no per-account part.
    let config = std::fs::read_to_string(data("tiny_nsm.toml")).unwrap();
    let names: std::collections::BTreeSet<&str> = config
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|name| name.trim_end_matches('"'))
        .collect();
    let every: String = names
        .iter()
        .map(|name| format!("2024-01-01,{name},1\n"))
        .collect();
    series_fails(
        &format!("period,candidate,value\n{every}"),
        Some("period,candidate,account,value\n2024-01-01,meetings_per_active_user,a1,1\n"),
        &[],
        &["customers.csv, line 2", "a ratio has no per-account part"],
    );
}

#[test]
fn series_flags_that_do_not_go_together() {
    let dir = tempfile::tempdir().unwrap();
    let series = write(dir.path(), "series.csv", "period,candidate,value\n");
    // --series needs --config; --customers needs --series; --series excludes --events.
    for args in [
        vec!["--series", series.to_str().unwrap()],
        vec!["--events", "e.csv", "--customers", series.to_str().unwrap()],
        vec!["--events", "e.csv", "--series", series.to_str().unwrap()],
    ] {
        let result = nsm()
            .args(["evaluate", "--revenue", "r.csv"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error:"), "{stderr}");
    }
    // Aggregate revenue cannot give the churn test its customers.
    let result = nsm()
        .args(["evaluate", "--series"])
        .arg(&series)
        .arg("--revenue")
        .arg(data("tiny_revenue_aggregate.csv"))
        .arg("--config")
        .arg(data("tiny_nsm.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs per-customer revenue"), "{stderr}");
}

#[test]
fn free_text_in_the_event_column() {
    // More distinct event names than nsm keeps codes for: the column is not a catalog. With
    // one user every name is met by one load shard; with a user per row the names are spread
    // over both shards, each staying under the limit, and only the merge passes it.
    for user_per_row in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("timestamp,user_id,event\n");
        for i in 0..65_537 {
            let user = if user_per_row { i } else { 1 };
            text.push_str(&format!("2024-01-01T00:00:00Z,u{user},clicked link {i}\n"));
        }
        let mut case = Case::tiny();
        case.events = write(dir.path(), "events.csv", &text);
        // One shard meets the names in file order: the 65,537th is the one past the limit.
        let value = if user_per_row {
            "value 'clicked link "
        } else {
            "value 'clicked link 65536'"
        };
        case.fails_with(&[
            "events.csv",
            "column 'event'",
            value,
            "more than 65536 distinct event names",
        ]);
    }
}
