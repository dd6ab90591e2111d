//! The command line end to end: the JSON contract, formats, determinism, atomic output, help.

use std::path::Path;

use crate::common::{data, json_of, nsm};
use predicates::prelude::*;

fn tiny_args(format: &str) -> Vec<String> {
    vec![
        "evaluate".into(),
        "--events".into(),
        data("tiny_events.csv").display().to_string(),
        "--revenue".into(),
        data("tiny_revenue_customers.csv").display().to_string(),
        "--config".into(),
        data("tiny_nsm.toml").display().to_string(),
        "--surrogates".into(),
        "19".into(),
        "--format".into(),
        format.into(),
    ]
}

fn args_ref(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn json_has_every_field_of_the_contract() {
    let json = json_of(&args_ref(&tiny_args("json")));
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["tool"]["name"], "nsm");
    assert_eq!(json["tool"]["version"], env!("CARGO_PKG_VERSION"));
    let settings = &json["settings"];
    assert_eq!(settings["period"], "month");
    assert_eq!(settings["lag_min"], 3);
    assert_eq!(settings["lag_max"], 12);
    assert_eq!(settings["alpha"], 0.05);
    assert_eq!(settings["seed"], 0);
    assert!(settings["as_of"].is_null());
    let data = &json["data"];
    for field in ["events_rows", "revenue_rows", "skipped_rows"] {
        assert!(data[field].is_u64(), "data.{field}");
    }
    assert_eq!(data["first_period"], "2024-01");
    assert_eq!(data["last_period"], "2024-03");
    assert_eq!(data["churn_source"], "revenue");
    assert!(data["notes"].is_array());
    assert!(json.get("recommended").is_some());
    let candidates = json["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 13, "12 candidates and the revenue row");
    for c in candidates {
        for field in ["name", "kind", "verdict", "explanation"] {
            assert!(c[field].is_string(), "{field} in {c}");
        }
        assert!(["pass", "fail", "inconclusive"].contains(&c["verdict"].as_str().unwrap()));
        assert!(c["labels"].is_array());
        assert!(c["series"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["period"].is_string() && p["value"].is_number()));
        if c["kind"] == "revenue" {
            assert!(c["rank"].is_null() && c["score"].is_null());
            continue;
        }
        assert!(c["rank"].is_u64() && c["score"].is_number());
        let lead = &c["lead"];
        for field in [
            "verdict",
            "best_lag",
            "r",
            "p_value",
            "reverse_best_lag",
            "reverse_r",
            "granger_f",
            "granger_p",
            "n_periods",
        ] {
            assert!(lead.get(field).is_some(), "lead.{field}");
        }
        let churn = &c["churn"];
        for field in [
            "verdict",
            "divergence_rate",
            "churn_corr",
            "churner_weight",
            "residual",
            "monotone",
        ] {
            assert!(churn.get(field).is_some(), "churn.{field}");
        }
    }
    // Three months cannot carry a 12-month lag: every lead test is inconclusive and says why.
    let meetings = candidates.iter().find(|c| c["name"] == "meetings").unwrap();
    assert_eq!(meetings["lead"]["verdict"], "inconclusive");
    assert!(meetings["explanation"]
        .as_str()
        .unwrap()
        .contains("more months"));
    // A cumulative count can never fall: vanity, whatever else.
    let registered = candidates
        .iter()
        .find(|c| c["name"] == "registered_users")
        .unwrap();
    assert_eq!(registered["verdict"], "fail");
    assert_eq!(registered["churn"]["monotone"], true);
    assert!(registered["labels"]
        .as_array()
        .unwrap()
        .contains(&"vanity".into()));
}

#[test]
fn same_input_same_bytes_in_every_format() {
    for format in ["json", "csv", "markdown", "table"] {
        let args = tiny_args(format);
        let first = nsm().args(args_ref(&args)).output().unwrap();
        let second = nsm().args(args_ref(&args)).output().unwrap();
        assert!(first.status.success());
        assert_eq!(first.stdout, second.stdout, "{format}");
    }
}

#[test]
fn formats_have_their_shape() {
    let out = |format: &str| {
        let o = nsm().args(args_ref(&tiny_args(format))).output().unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let csv = out("csv");
    assert!(csv.starts_with("rank,name,kind,score,verdict,labels,"));
    assert_eq!(csv.lines().count(), 1 + 13);
    let markdown = out("markdown");
    assert!(markdown.contains("| # | candidate | score | verdict |"));
    assert!(markdown.contains("## Why"));
    let table = out("table");
    assert!(table.contains("Why:"));
    // The table itself (from the first rule to the last) fits 100 columns.
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with('─'))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(rows.len() > 3, "{table}");
    assert!(rows.iter().all(|l| l.chars().count() <= 100), "{table}");
}

#[test]
fn output_file_is_written_whole_and_matches_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("result.json");
    std::fs::write(&target, "previous").unwrap();
    let mut args = tiny_args("json");
    args.push("--output".into());
    args.push(target.display().to_string());
    nsm().args(args_ref(&args)).assert().success().stdout("");
    let written = std::fs::read(&target).unwrap();
    let stdout = nsm()
        .args(args_ref(&tiny_args("json")))
        .output()
        .unwrap()
        .stdout;
    assert_eq!(written, stdout);
    // Nothing else is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_interrupted_run_leaves_the_previous_output_intact() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("result.json");
    std::fs::write(&target, "previous result").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/saas");
    // Many surrogates keep the run busy long enough to be killed mid-way.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nsm"))
        .args(["evaluate", "--format", "json", "--surrogates", "100000"])
        .arg("--events")
        .arg(root.join("events.csv.gz"))
        .arg("--revenue")
        .arg(root.join("revenue.csv"))
        .arg("--output")
        .arg(&target)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run must still be going when it is killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous result");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in ["evaluate", "demo", "init", "check", "report", "sql"] {
        nsm().args([command, "--help"]).assert().success().stdout(
            predicate::str::contains("Examples:")
                .and(predicate::str::contains(format!("nsm {command}"))),
        );
    }
}

#[test]
fn init_writes_a_config_that_evaluate_reads() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nsm.toml");
    nsm()
        .args(["init", "--events"])
        .arg(data("tiny_events.csv"))
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .arg("--output")
        .arg(&config)
        .assert()
        .success();
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("[[candidate]]") && text.contains("name = \"meeting_count\""),
        "{text}"
    );
    // A second init refuses to overwrite.
    nsm()
        .args(["init", "--events"])
        .arg(data("tiny_events.csv"))
        .arg("--output")
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    let json = crate::common::evaluate_json(
        &data("tiny_events.csv"),
        &data("tiny_revenue_customers.csv"),
        &config,
        &[],
    );
    assert_eq!(
        crate::common::series(&json, "meeting_count"),
        vec![4.0, 3.0, 2.0]
    );
}

#[test]
fn progress_stays_off_a_stderr_that_is_not_a_terminal() {
    // Under the test harness stderr is a pipe, as in CI or `2> log`: no bars, no stage lines.
    let args = tiny_args("json");
    let output = nsm()
        .args(args_ref(&args))
        .env_remove("NSM_TIMINGS")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&output.stdout).is_ok());
}
