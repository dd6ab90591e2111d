//! Plain and gzip CSV files read straight into the store: blocks of whole records are split
//! into fields in place, and only the mapped fields are read, with no text columns built.
//!
//! It reads a file exactly as the general scan ([`super::plan`]) does: fields as polars reads
//! them with an all-text schema (an empty field is null, a quoted empty field is empty text,
//! nothing trimmed), timestamps by the file's [`TimestampKind`] with the one grammar of
//! [`crate::ingest::timestamp`], values by the parser polars casts text with, the same bad-row
//! rules, `--as-of` and user id fallbacks; the rows reach the loader in file order, so the codes
//! and fingerprints are the same too. What it does not recognise (a ragged or blank line, a
//! quote inside an unquoted field, an escaped quote in a mapped field, text that is not UTF-8)
//! it leaves to the general scan, which reads the files again from the start and says what is
//! wrong when something is.
//!
//! A reader thread fills blocks (decompressing gzip) while the pool splits each block in two at
//! a record boundary, parses the halves on two threads and stores them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use anyhow::Result;
use flate2::read::MultiGzDecoder;

use super::options::EventOptions;
use super::plan::{FilePlan, TimestampKind};
use super::store::{raw_hash, raw_text_hash, Loader, Rows};
use crate::error::InputError;
use crate::ingest::activity::IdKey;
use crate::ingest::source::{FileFormat, InputFile};
use crate::ingest::timestamp::{DayReader, TimestampFamily};
use crate::progress::Counter;
use split::{last_record_end, line_stops, position, split_record, Field, LINE_END};

mod split;

/// Bytes read ahead into one block (a block grows to hold a longer record).
const BLOCK_BYTES: usize = 4 << 20;

/// Bytes read to find the header's end.
const HEAD_BYTES: usize = 1 << 20;

/// Blocks in flight between the reader thread and the parser.
const BLOCKS_AHEAD: usize = 2;

/// Why the files were left to the general scan.
pub(super) struct NotDirect(pub(super) String);

/// Read every file into a loader, or say why not (the general scan then reads them all).
pub(super) fn load(
    plans: &[FilePlan],
    options: &EventOptions,
    has_value: bool,
    counter: &Counter,
) -> Result<std::result::Result<Loader, NotDirect>> {
    let mut loader = Loader::new(has_value);
    for plan in plans {
        let Some(file) = &plan.csv else {
            return Ok(Err(NotDirect(format!("{} is not CSV", plan.label))));
        };
        let layout = match Layout::of(file, options, plan.timestamp)? {
            Ok(layout) => layout,
            Err(why) => return Ok(Err(why)),
        };
        if let Err(why) = read_file(file, &layout, options, &mut loader, counter)? {
            return Ok(Err(why));
        }
        if loader.failure.is_some() {
            break;
        }
    }
    Ok(Ok(loader))
}

/// Where the mapped fields of one file are, and how to read them.
struct Layout {
    delimiter: u8,
    /// Fields in the header.
    fields: usize,
    /// The slot of each field: one of the `SLOT_*`, or `UNMAPPED`.
    slot_of: Vec<u8>,
    /// Slots in use (4 + the user id columns).
    slots: usize,
    has_account: bool,
    has_value: bool,
    family: TimestampFamily,
    /// Bytes before the first record (the header).
    header_end: usize,
}

const SLOT_TIMESTAMP: usize = 0;
const SLOT_ACCOUNT: usize = 1;
const SLOT_EVENT: usize = 2;
const SLOT_VALUE: usize = 3;
/// The user id, then its fallbacks in order.
const SLOT_USERS: usize = 4;
const UNMAPPED: u8 = u8::MAX;

impl Layout {
    fn of(
        file: &InputFile,
        options: &EventOptions,
        timestamp: TimestampKind,
    ) -> Result<std::result::Result<Layout, NotDirect>> {
        let not = |why: &str| Ok(Err(NotDirect(format!("{}: {why}", file.display()))));
        let family = match timestamp {
            TimestampKind::Text(family) => family,
            TimestampKind::TextFormat(_) => TimestampFamily::Iso,
            _ => return not("timestamps are not text"),
        };
        // The header as the records are split: its end, and its fields' names.
        let mut head = Vec::new();
        open(file)?
            .take(HEAD_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| InputError::new(format!("{}: cannot read: {e}", file.display())))?;
        let delimiter = options.delimiter;
        let mut header = Vec::new();
        let header_end = match split_record(&head, 0, delimiter, |_, field| {
            header.push(field);
            true
        }) {
            // A header that fills the whole head may go on past it.
            Some(end) if end < head.len() || head.len() < HEAD_BYTES => end,
            _ => return not("the header is not a plain CSV line"),
        };
        let mut names: Vec<String> = Vec::with_capacity(header.len());
        for (i, field) in header.iter().enumerate() {
            let Field { text, escaped, .. } = *field;
            let Ok(name) = std::str::from_utf8(&head[text.0..text.1]) else {
                return not("the header is not UTF-8");
            };
            if escaped {
                return not("a header name holds a quote");
            }
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            names.push(name.trim().to_string());
        }
        let cols = &options.columns;
        let mut slot_of = vec![UNMAPPED; names.len()];
        let mut place = |name: &str, slot: usize| {
            // The first column of a repeated name, as the schema names the others apart.
            if let Some(i) = names.iter().position(|n| n == name) {
                if slot_of[i] == UNMAPPED {
                    slot_of[i] = slot as u8;
                    return true;
                }
            }
            false
        };
        let users: Vec<&str> = cols.user_id_columns().collect();
        if users.len() + SLOT_USERS > MAX_SLOTS {
            return not("too many user id columns");
        }
        // A column mapped twice (the user id as the account too) is read by the general scan.
        let mut placed = place(&cols.timestamp, SLOT_TIMESTAMP) && place(&cols.event, SLOT_EVENT);
        for (i, user) in users.iter().enumerate() {
            placed &= place(user, SLOT_USERS + i);
        }
        let has_account = names.iter().any(|n| n == &cols.account_id);
        let has_value = names.iter().any(|n| n == &cols.value);
        placed &= !has_account || place(&cols.account_id, SLOT_ACCOUNT);
        placed &= !has_value || place(&cols.value, SLOT_VALUE);
        if !placed {
            return not("a column is mapped to two roles");
        }
        Ok(Ok(Layout {
            delimiter,
            fields: names.len(),
            slot_of,
            slots: SLOT_USERS + users.len(),
            has_account,
            has_value,
            family,
            header_end,
        }))
    }
}

/// A plain or gzip file's bytes.
fn open(file: &InputFile) -> Result<Box<dyn Read + Send>> {
    let handle = File::open(&file.path)
        .map_err(|e| InputError::new(format!("{}: cannot open: {e}", file.display())))?;
    Ok(match file.format {
        FileFormat::GzipCsv => Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            handle,
        ))),
        _ => Box::new(handle),
    })
}

/// Read one file's records into the loader; `Ok(Err)` when the general scan must read it.
fn read_file(
    file: &InputFile,
    layout: &Layout,
    options: &EventOptions,
    loader: &mut Loader,
    counter: &Counter,
) -> Result<std::result::Result<(), NotDirect>> {
    let (blocks_tx, blocks) = sync_channel::<std::io::Result<Vec<u8>>>(BLOCKS_AHEAD);
    let (spent, spent_rx) = sync_channel::<Vec<u8>>(BLOCKS_AHEAD + 2);
    let mut source = open(file)?;
    std::thread::scope(|scope| {
        scope.spawn(move || fill_blocks(&mut source, layout.header_end, &blocks_tx, &spent_rx));
        let outcome = parse_blocks(file, layout, options, loader, counter, &blocks, &spent);
        // Stop the reader: it sees the closed channels and ends.
        drop(blocks);
        drop(spent);
        outcome
    })
}

/// The reader thread: blocks of whole records from `source` after its header, reusing the
/// buffers the parser hands back.
fn fill_blocks(
    source: &mut dyn Read,
    header_end: usize,
    blocks: &SyncSender<std::io::Result<Vec<u8>>>,
    spent: &Receiver<Vec<u8>>,
) {
    let mut skip = header_end;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buf = spent.try_recv().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        let mut eof;
        // Fill to the block size, then on until the block holds a whole record.
        loop {
            let len = buf.len();
            let want = if len < BLOCK_BYTES {
                BLOCK_BYTES
            } else {
                len + BLOCK_BYTES / 4
            };
            buf.resize(want, 0);
            match read_full(source, &mut buf[len..]) {
                Ok(n) => {
                    buf.truncate(len + n);
                    eof = n < want - len;
                }
                Err(e) => {
                    let _ = blocks.send(Err(e));
                    return;
                }
            }
            if skip > 0 {
                let skipped = skip.min(buf.len());
                buf.drain(..skipped);
                skip -= skipped;
                if !eof {
                    continue;
                }
            }
            if eof {
                break;
            }
            if let Some(end) = last_record_end(&buf) {
                carry.extend_from_slice(&buf[end..]);
                buf.truncate(end);
                break;
            }
        }
        if !buf.is_empty() && blocks.send(Ok(buf)).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Read until `buf` is full or the source ends; the bytes read.
fn read_full(source: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Parse and store the blocks as they come, each split in two halves parsed on two threads.
fn parse_blocks(
    file: &InputFile,
    layout: &Layout,
    options: &EventOptions,
    loader: &mut Loader,
    counter: &Counter,
    blocks: &Receiver<std::io::Result<Vec<u8>>>,
    spent: &SyncSender<Vec<u8>>,
) -> Result<std::result::Result<(), NotDirect>> {
    // A plain file's size tells how many rows to make room for, from its first block's.
    let mut size = match file.format {
        FileFormat::Csv => std::fs::metadata(&file.path).ok().map(|m| m.len()),
        _ => None,
    };
    // Room kept from block to block: the marks of each half, and the rows' vectors.
    let (mut early_marks, mut late_marks) = (Vec::new(), Vec::new());
    let mut spare = [Rows::default(), Rows::default()];
    for block in blocks {
        let block = block.map_err(|e| {
            InputError::new(format!(
                "{}: read failed ({e}); is the file complete?",
                file.display()
            ))
        })?;
        let middle = last_record_end(&block[..block.len() / 2]).unwrap_or(0);
        let (early, late) = block.split_at(middle);
        let [early_rows, late_rows] = std::mem::take(&mut spare);
        let (early, late) = rayon::join(
            || parse_part(early, layout, options, &mut early_marks, early_rows),
            || parse_part(late, layout, options, &mut late_marks, late_rows),
        );
        let (early, late) = match (early, late) {
            (Ok(early), Ok(late)) => (early, late),
            (Err(why), _) | (_, Err(why)) => {
                return Ok(Err(NotDirect(format!("{}: {}", file.display(), why.0))));
            }
        };
        let rows = early.bad + late.bad + early.len() + late.len();
        if let Some(bytes) = size.take() {
            let good = (early.len() + late.len()) as f64;
            loader.reserve((good / block.len() as f64 * bytes as f64) as usize);
        }
        let parts = [early, late];
        loader.store(&parts);
        spare = parts.map(Rows::recycle);
        counter.add(rows);
        let _ = spent.try_send(block);
        if loader.failure.is_some() {
            break;
        }
    }
    Ok(Ok(()))
}

/// The rows of whole records in `part`, into `rows` (empty, with room); `marks` is room for
/// [`line_stops`]' marks.
fn parse_part<'a>(
    part: &'a [u8],
    layout: &Layout,
    options: &EventOptions,
    marks: &mut Vec<u32>,
    rows: Rows<'a>,
) -> std::result::Result<Rows<'a>, NotDirect> {
    let mut reader = PartReader {
        part,
        // Fields end at ASCII bytes, so in a part of valid UTF-8 every field is valid too:
        // the part is checked once, and each field only when it is not.
        text: std::str::from_utf8(part).ok(),
        layout,
        as_of: options.as_of,
        days: DayReader::new(layout.family, options.timezone),
        rows,
        cells: [None; MAX_SLOTS],
        count: 0,
    };
    if let Some(count) = line_stops(part, layout.delimiter, marks) {
        let mut start = 0;
        for &mark in &marks[..count] {
            let end = position(mark);
            reader.field(start, end, false, false)?;
            start = end + 1;
            if mark & LINE_END != 0 {
                // Past the carriage return, when the line has one.
                start += usize::from(part[end] == b'\r');
                reader.record()?;
            }
        }
        // A last line without a line feed (the end of the file).
        if start < part.len() || reader.count > 0 {
            reader.field(start, part.len(), false, false)?;
            reader.record()?;
        }
    } else {
        let mut at = 0;
        while at < part.len() {
            let mut refused = None;
            let next = split_record(part, at, layout.delimiter, |_, field| {
                let Field {
                    text: (start, end),
                    quoted,
                    escaped,
                } = field;
                match reader.field(start, end, quoted, escaped) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some(why);
                        false
                    }
                }
            });
            if let Some(why) = refused {
                return Err(why);
            }
            at = next.ok_or_else(|| {
                NotDirect("a quote inside a field, or a carriage return inside a line".into())
            })?;
            reader.record()?;
        }
    }
    Ok(reader.rows)
}

/// Most mapped fields of a record: the four roles and the user id's columns.
const MAX_SLOTS: usize = 16;

/// The records of one part, field by field, into rows.
struct PartReader<'a, 'l> {
    part: &'a [u8],
    /// The part as text, when it is all valid UTF-8.
    text: Option<&'a str>,
    layout: &'l Layout,
    as_of: Option<i32>,
    days: DayReader,
    rows: Rows<'a>,
    /// The current record's mapped fields by slot.
    cells: [Option<Field>; MAX_SLOTS],
    /// Fields of the current record so far.
    count: usize,
}

impl<'a> PartReader<'a, '_> {
    /// The next field of the current record.
    #[inline]
    fn field(
        &mut self,
        start: usize,
        end: usize,
        quoted: bool,
        escaped: bool,
    ) -> std::result::Result<(), NotDirect> {
        match self.layout.slot_of.get(self.count) {
            Some(&slot) if slot != UNMAPPED => {
                if escaped {
                    return Err(NotDirect("a mapped field holds an escaped quote".into()));
                }
                self.cells[slot as usize] = Some(Field {
                    text: (start, end),
                    quoted,
                    escaped,
                });
            }
            Some(_) => {}
            None => return Err(NotDirect("a line with more fields than the header".into())),
        }
        self.count += 1;
        Ok(())
    }

    /// The text of a mapped field: `None` when empty and unquoted (polars' null).
    #[inline]
    fn text(&self, slot: usize) -> std::result::Result<Option<&'a str>, NotDirect> {
        let Some(Field {
            text: (start, end),
            quoted,
            ..
        }) = self.cells[slot]
        else {
            return Ok(None);
        };
        if start == end && !quoted {
            return Ok(None);
        }
        match self.text {
            Some(text) => Ok(Some(&text[start..end])),
            None => std::str::from_utf8(&self.part[start..end])
                .map(Some)
                .map_err(|_| NotDirect("text that is not UTF-8".into())),
        }
    }

    /// The current record is complete: its row (or a bad row) into the rows.
    #[inline]
    fn record(&mut self) -> std::result::Result<(), NotDirect> {
        let layout = self.layout;
        if self.count != layout.fields {
            return Err(NotDirect("a line with fewer fields than the header".into()));
        }
        let raw_ts = self.text(SLOT_TIMESTAMP)?;
        let event = self.text(SLOT_EVENT)?;
        // The first non-empty user id column, else the last one as it is.
        let mut user = None;
        let mut fallback = false;
        for slot in SLOT_USERS..layout.slots {
            user = self.text(slot)?;
            if user.is_some_and(|u| !u.is_empty()) {
                fallback = slot > SLOT_USERS;
                break;
            }
        }
        let account = if layout.has_account {
            self.text(SLOT_ACCOUNT)?.or(user)
        } else {
            user
        };
        let raw_value = if layout.has_value {
            self.text(SLOT_VALUE)?
        } else {
            None
        };
        self.cells = [None; MAX_SLOTS];
        self.count = 0;
        let value = raw_value.and_then(|v| fast_float2::parse::<f64, _>(v).ok());
        let bad_value = raw_value.is_some() && !value.is_some_and(f64::is_finite);
        let day = raw_ts.and_then(|t| self.days.day(t));
        let (Some(day), Some(user), Some(account), Some(event), false) =
            (day, user, account, event, bad_value)
        else {
            self.rows.bad += 1;
            return Ok(());
        };
        if self.as_of.is_some_and(|as_of| day > as_of) {
            return Ok(());
        }
        self.rows.fallback += u64::from(fallback);
        let raw = raw_hash(raw_text_hash(raw_ts), raw_text_hash(raw_value));
        self.rows
            .push(IdKey::of(user), IdKey::of(account), event, day, value, raw);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
