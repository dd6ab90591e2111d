//! The layout rules of `src/`, checked on the source text: data flows one way (each top-level
//! module imports only from the steps before it), and no two files import each other, directly
//! or round a longer cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may import from (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("period", &[]),
    ("progress", &[]),
    ("memory", &[]),
    ("exit_codes", &["error"]),
    ("output", &["error"]),
    ("ingest", &["error", "period", "progress", "memory"]),
    (
        "candidates",
        &["error", "period", "progress", "memory", "ingest"],
    ),
    ("stats", &["memory", "ingest"]),
    (
        "evaluation",
        &[
            "error",
            "period",
            "progress",
            "ingest",
            "candidates",
            "stats",
        ],
    ),
    (
        "discovery",
        &[
            "error",
            "period",
            "progress",
            "ingest",
            "candidates",
            "stats",
            "evaluation",
        ],
    ),
    ("gate", &["error", "evaluation", "stats"]),
    (
        "render",
        &[
            "error",
            "period",
            "candidates",
            "stats",
            "evaluation",
            "discovery",
            "gate",
        ],
    ),
    ("sql", &["error", "period", "ingest", "candidates"]),
    (
        "demo",
        &["error", "period", "output", "ingest", "candidates"],
    ),
    ("cli", &["period", "ingest", "render", "sql"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/ingest/events/plan.rs` is `["ingest", "events", "plan"]`.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file defining the longest prefix of `path` that is a module.
fn file_of(path: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    (0..=path.len())
        .rev()
        .find_map(|n| files.get(&path[..n]).cloned())
}

/// Source without comments and string literals (so that text in docs is not an import).
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| {
            // Drop string literals: an odd number of quotes before a position means inside one.
            let mut out = String::new();
            let mut in_string = false;
            let mut previous = ' ';
            for ch in l.chars() {
                if ch == '"' && previous != '\\' {
                    in_string = !in_string;
                } else if !in_string {
                    out.push(ch);
                }
                previous = ch;
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` declaration names, braces expanded: `a::{b, c::d}` is `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| {
            if p == "self" {
                prefix.trim_end_matches("::").to_string()
            } else {
                format!("{prefix}{p}")
            }
        })
        .collect()
}

/// The module paths one file refers to, absolute (`crate::`, `super::`, a child module, or a
/// `crate::a::b` path in the code).
fn imports(file: &Path, module: &[String]) -> Vec<Vec<String>> {
    let code = code_only(&std::fs::read_to_string(file).unwrap());
    let children: BTreeSet<String> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect();
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        let Some(pos) = statement.find("use ") else {
            continue;
        };
        if !(pos == 0
            || statement[..pos].trim_end().ends_with(')')
            || statement[..pos].trim() == "pub")
        {
            continue;
        }
        paths.extend(expand(&statement[pos + 4..]));
    }
    for (i, _) in code.match_indices("crate::") {
        let rest: String = code[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        // `crate::input_err!` is a macro at the root, not an import of a module.
        if !code[i + rest.len()..].starts_with('!') {
            paths.push(rest);
        }
    }
    paths
        .into_iter()
        .filter_map(|path| {
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let first = *segments.first()?;
            let mut absolute: Vec<String> = match first {
                "crate" => Vec::new(),
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                "self" => module.to_vec(),
                child if children.contains(child) => module.to_vec(),
                _ => return None,
            };
            let skip = usize::from(matches!(first, "crate" | "super" | "self"));
            let mut rest = segments[skip..].iter();
            // `super::super::x`
            while let Some(s) = rest.clone().next().filter(|s| **s == "super") {
                let _ = s;
                rest.next();
                absolute.pop();
            }
            absolute.extend(rest.map(|s| s.to_string()));
            Some(absolute)
        })
        .collect()
}

struct Graph {
    /// file -> files it imports (other than itself).
    edges: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    modules: BTreeMap<PathBuf, Vec<String>>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let by_module: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut edges = BTreeMap::new();
    let mut modules = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let targets: BTreeSet<PathBuf> = imports(file, &module)
            .iter()
            .filter_map(|path| file_of(path, &by_module))
            .filter(|target| target != file)
            .collect();
        edges.insert(file.clone(), targets);
        modules.insert(file.clone(), module);
    }
    Graph { edges, modules }
}

fn name(file: &Path) -> String {
    file.strip_prefix(src()).unwrap().display().to_string()
}

#[test]
fn data_flows_one_way() {
    let graph = graph();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut broken = Vec::new();
    for (file, targets) in &graph.edges {
        let Some(top) = graph.modules[file].first().map(String::as_str) else {
            continue; // lib.rs and main.rs
        };
        let Some(may) = allowed.get(top) else {
            continue; // cmd: the edge, may use everything
        };
        for target in targets {
            let Some(other) = graph.modules[target].first().map(String::as_str) else {
                broken.push(format!("{} imports the crate root", name(file)));
                continue;
            };
            if other != top && !may.contains(&other) {
                broken.push(format!("{} imports {}", name(file), name(target)));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the flow:\n{}",
        broken.join("\n")
    );
    // The check sees imports at all: ingest/events/plan.rs reads the column mapping.
    let plan = src().join("ingest/events/plan.rs");
    assert!(graph.edges[&plan].contains(&src().join("ingest/columns.rs")));
}

#[test]
fn no_file_imports_itself_round_a_cycle() {
    let graph = graph();
    // Depth-first search for a back edge; the path to it is the cycle.
    fn visit(
        file: &PathBuf,
        graph: &Graph,
        state: &mut BTreeMap<PathBuf, u8>,
        path: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        state.insert(file.clone(), 1);
        path.push(file.clone());
        for next in &graph.edges[file] {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(cycle) = visit(next, graph, state, path) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(file.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for file in graph.edges.keys() {
        if state.get(file).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(file, &graph, &mut state, &mut Vec::new()) {
                let names: Vec<String> = cycle.iter().map(|f| name(f)).collect();
                panic!("import cycle: {}", names.join(" -> "));
            }
        }
    }
}

#[test]
fn the_expansion_of_use_trees() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e as f}, self}"),
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "crate::a::"
        ]
        .map(|s| s.trim_end_matches("::").to_string())
    );
}
