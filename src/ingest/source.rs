//! Input files: glob expansion, existence checks, format detection and header reading.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Result;
use flate2::read::MultiGzDecoder;

use crate::error::InputError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    GzipCsv,
    Parquet,
    /// One JSON object per line (the vendors' event exports), plain or gzip.
    JsonLines,
    GzipJsonLines,
    /// A ZIP archive of JSON-lines files (Amplitude's export).
    Zip,
}

impl FileFormat {
    /// JSON lines in any wrapping.
    pub fn is_json(self) -> bool {
        matches!(
            self,
            FileFormat::JsonLines | FileFormat::GzipJsonLines | FileFormat::Zip
        )
    }

    /// The format in words, for errors.
    pub fn describe(self) -> &'static str {
        match self {
            FileFormat::Csv => "CSV",
            FileFormat::GzipCsv => "gzip CSV",
            FileFormat::Parquet => "Parquet",
            FileFormat::JsonLines => "JSON lines",
            FileFormat::GzipJsonLines => "gzip JSON lines",
            FileFormat::Zip => "a ZIP archive",
        }
    }
}

/// One input file, checked to exist and be readable.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: FileFormat,
}

impl InputFile {
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Whether a text starts (after white space and a byte-order mark) like a JSON document.
fn starts_like_json(head: &[u8]) -> bool {
    let head = head.strip_prefix("\u{feff}".as_bytes()).unwrap_or(head);
    matches!(
        head.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

/// Whether the file's name says JSON (`.json`, `.jsonl`, `.ndjson`, gzipped or not): a blank
/// file so named is an export without records, not a table without a header.
fn named_json(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// The first bytes of a file, decompressed when it is gzip.
fn first_bytes(path: &Path, gzip: bool) -> std::io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut head = Vec::with_capacity(256);
    if gzip {
        MultiGzDecoder::new(BufReader::new(file))
            .take(256)
            .read_to_end(&mut head)?;
    } else {
        file.take(256).read_to_end(&mut head)?;
    }
    Ok(head)
}

/// Expand globs and check every file. Order: arguments in the order given, glob matches sorted.
pub fn resolve(patterns: &[PathBuf], role: &str) -> Result<Vec<InputFile>> {
    let mut files = Vec::new();
    for pattern in patterns {
        let text = pattern.to_string_lossy();
        let is_glob = text.contains(['*', '?', '[']);
        if is_glob && !pattern.exists() {
            let mut matched: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| {
                    InputError::new(format!("{role} pattern '{text}' is not a valid glob: {e}"))
                })?
                .filter_map(|entry| entry.ok())
                .filter(|path| path.is_file())
                .collect();
            if matched.is_empty() {
                return Err(
                    InputError::new(format!("{role} pattern '{text}' matches no file")).into(),
                );
            }
            matched.sort();
            for path in matched {
                files.push(open_checked(&path, role)?);
            }
        } else {
            files.push(open_checked(pattern, role)?);
        }
    }
    if files.is_empty() {
        return Err(InputError::new(format!("no {role} file given")).into());
    }
    Ok(files)
}

fn open_checked(path: &Path, role: &str) -> Result<InputFile> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| InputError::new(format!("{role} file {shown}: cannot open: {e}")))?;
    if meta.is_dir() {
        return Err(InputError::new(format!(
            "{role} file {shown}: is a directory; give the files inside it, or a glob such as '{shown}/*.csv'"
        ))
        .into());
    }
    if meta.len() == 0 {
        return Err(InputError::new(format!("{role} file {shown}: is empty")).into());
    }
    let mut head = [0u8; 4];
    let read = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| InputError::new(format!("{role} file {shown}: cannot read: {e}")))?;
    let gzip = read >= 2 && head[..2] == GZIP_MAGIC;
    // A file whose text cannot be read here is left to the reader, which says why.
    let json = first_bytes(path, gzip).is_ok_and(|text| {
        starts_like_json(&text) || (named_json(path) && text.iter().all(u8::is_ascii_whitespace))
    });
    let format = match (gzip, json) {
        (true, true) => FileFormat::GzipJsonLines,
        (true, false) => FileFormat::GzipCsv,
        _ if read == 4 && &head == PARQUET_MAGIC => FileFormat::Parquet,
        _ if read == 4 && &head == ZIP_MAGIC => FileFormat::Zip,
        (false, true) => FileFormat::JsonLines,
        (false, false) => FileFormat::Csv,
    };
    Ok(InputFile {
        path: path.to_path_buf(),
        format,
    })
}

/// A CSV reader over a plain or gzip file; lines are the file's own (header = line 1).
pub fn csv_reader(file: &InputFile, delimiter: u8) -> Result<csv::Reader<Box<dyn Read>>> {
    let handle = File::open(&file.path)
        .map_err(|e| InputError::new(format!("{}: cannot open: {e}", file.display())))?;
    let inner: Box<dyn Read> = match file.format {
        FileFormat::GzipCsv => Box::new(MultiGzDecoder::new(BufReader::new(handle))),
        _ => Box::new(BufReader::new(handle)),
    };
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(inner))
}

/// Header names of a CSV file, with a UTF-8 byte-order mark removed from the first.
pub fn csv_header(file: &InputFile, delimiter: u8) -> Result<Vec<String>> {
    let mut reader = csv_reader(file, delimiter)?;
    let header = reader.headers().map_err(|e| {
        InputError::new(format!(
            "{}: cannot read the header: {}",
            file.display(),
            csv_error_text(&e)
        ))
    })?;
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            name.trim().to_string()
        })
        .collect();
    if names.iter().all(|n| n.is_empty()) {
        return Err(InputError::new(format!("{}: has no header line", file.display())).into());
    }
    Ok(names)
}

/// A hint for a header read as one field that holds another delimiter: the file is fine, the
/// `--delimiter` flag is not. Empty otherwise.
pub fn delimiter_hint(header: &[String]) -> &'static str {
    match header {
        [only] if only.contains([',', ';', '\t', '|']) => {
            "; the header is one field: is --delimiter right for this file?"
        }
        _ => "",
    }
}

/// Whether [`for_each_record`] reads on.
pub enum Visit {
    Continue,
    Stop,
}

/// Read every record of a CSV file in order, until `visit` says stop. A read error (ragged
/// row, invalid UTF-8, truncated gzip) becomes an input error naming the file and line.
pub fn for_each_record(
    file: &InputFile,
    delimiter: u8,
    mut visit: impl FnMut(&csv::StringRecord) -> Result<Visit>,
) -> Result<()> {
    let mut reader = csv_reader(file, delimiter)?;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                if let Visit::Stop = visit(&record)? {
                    return Ok(());
                }
            }
            Ok(false) => return Ok(()),
            Err(e) => {
                let what = csv_error_text(&e);
                return Err(
                    InputError::at(&file.display(), csv_error_line(&e), None, None, what).into(),
                );
            }
        }
    }
}

/// The file line a record starts on (the header is line 1).
pub fn record_line(record: &csv::StringRecord) -> Option<u64> {
    record.position().map(|p| p.line())
}

/// A csv error in words, without the crate's internal positions.
pub fn csv_error_text(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(io) => format!("read failed ({io}); is the file complete?"),
        csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        _ => error.to_string(),
    }
}

/// The file line of a csv error, when it has one.
pub fn csv_error_line(error: &csv::Error) -> Option<u64> {
    error.position().map(|p| p.line())
}
