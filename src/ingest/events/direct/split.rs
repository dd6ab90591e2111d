//! Records into fields. A part without quotes is split 64 bytes at a time: one pass marks every
//! delimiter and line feed ([`line_stops`]), and records are read off those marks. A part with
//! quotes goes field by field ([`split_record`]).

/// One field of a record: its text's byte range, whether it was quoted, and whether its text
/// holds an escaped quote (`""`), which would need unescaping.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Field {
    pub(super) text: (usize, usize),
    pub(super) quoted: bool,
    pub(super) escaped: bool,
}

/// In a [`line_stops`] mark, the flag of a line end (the rest is the position).
pub(super) const LINE_END: u32 = 1 << 31;

/// The position of a [`line_stops`] mark.
#[inline]
pub(super) fn position(mark: u32) -> usize {
    (mark & !LINE_END) as usize
}

/// The marks of every delimiter and line feed of `part` in order, into the start of `marks`
/// (a delimiter's mark is its position; a line feed's has [`LINE_END`] set and the position
/// where the line's last field ends: the carriage return before it, if there is one), and how
/// many there are. `None`
/// when the part holds a quote or a carriage return that is not before a line feed: then it
/// is split by [`split_record`]. `marks` is kept between calls (it only grows).
pub(super) fn line_stops(part: &[u8], delimiter: u8, marks: &mut Vec<u32>) -> Option<usize> {
    if part.len() >= LINE_END as usize {
        return None;
    }
    // Every mark is written in groups of four past the last one: room for all and the spill.
    if marks.len() < part.len() + 8 {
        marks.resize(part.len() + 8, 0);
    }
    let mut count = 0;
    // A carriage return that ended the previous chunk: a line feed must start this one.
    let mut pending_cr = false;
    let mut chunk: [u8; 64];
    // Padding that is none of the bytes looked for.
    let pad = if delimiter == 0 { 1 } else { 0 };
    for (index, block) in part.chunks(64).enumerate() {
        let bytes: &[u8; 64] = match block.try_into() {
            Ok(whole) => whole,
            Err(_) => {
                chunk = [pad; 64];
                chunk[..block.len()].copy_from_slice(block);
                &chunk
            }
        };
        let Masks {
            stops,
            lines,
            quotes,
            returns,
        } = masks(bytes, delimiter);
        // Each carriage return must be followed by a line feed, here or first in the next chunk.
        if quotes != 0
            || (pending_cr && lines & 1 == 0)
            || returns & !(lines >> 1) & !(1 << 63) != 0
        {
            return None;
        }
        // Bit i: byte i - 1 is a carriage return (bit 0: the previous chunk's last byte).
        let return_before = (returns << 1) | u64::from(pending_cr);
        pending_cr = returns >> 63 == 1;
        let base = (index * 64) as u32;
        let mut stops = stops;
        let end = count + stops.count_ones() as usize;
        // Four marks at a time, past the last one too (into the spare room): no branch on
        // how many a chunk has until the group is written.
        while count < end {
            for k in 0..4 {
                let bit = stops.trailing_zeros() & 63;
                let line = ((lines >> bit) & 1) as u32;
                // A line's last field ends before its carriage return, if it has one.
                let before = line & ((return_before >> bit) & 1) as u32;
                marks[count + k] = (base + bit - before) | (line << 31);
                stops &= stops.wrapping_sub(1);
            }
            count += 4;
        }
        count = end;
    }
    (!pending_cr).then_some(count)
}

/// Where the bytes looked for are in a chunk: bit `i` for byte `i`.
struct Masks {
    /// The delimiter or a line feed.
    stops: u64,
    lines: u64,
    quotes: u64,
    returns: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn masks(chunk: &[u8; 64], delimiter: u8) -> Masks {
    // SAFETY: SSE2 is part of every x86_64 processor (the target's baseline).
    unsafe { masks_sse2(chunk, delimiter) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn masks_sse2(chunk: &[u8; 64], delimiter: u8) -> Masks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
    };
    let delimiters = _mm_set1_epi8(delimiter as i8);
    let feeds = _mm_set1_epi8(b'\n' as i8);
    let quote = _mm_set1_epi8(b'"' as i8);
    let cr = _mm_set1_epi8(b'\r' as i8);
    let mut out = Masks {
        stops: 0,
        lines: 0,
        quotes: 0,
        returns: 0,
    };
    for (i, sixteen) in chunk.chunks_exact(16).enumerate() {
        let low = u64::from_le_bytes(sixteen[..8].try_into().expect("eight bytes"));
        let high = u64::from_le_bytes(sixteen[8..].try_into().expect("eight bytes"));
        let v = _mm_set_epi64x(high as i64, low as i64);
        let bits = |m| u64::from(_mm_movemask_epi8(m) as u16) << (16 * i);
        let line = _mm_cmpeq_epi8(v, feeds);
        out.stops |= bits(_mm_or_si128(_mm_cmpeq_epi8(v, delimiters), line));
        out.lines |= bits(line);
        out.quotes |= bits(_mm_cmpeq_epi8(v, quote));
        out.returns |= bits(_mm_cmpeq_epi8(v, cr));
    }
    out
}

#[cfg(not(target_arch = "x86_64"))]
fn masks(chunk: &[u8; 64], delimiter: u8) -> Masks {
    masks_bytewise(chunk, delimiter)
}

/// [`masks`] a byte at a time (other processors; and the reference of the test).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn masks_bytewise(chunk: &[u8; 64], delimiter: u8) -> Masks {
    let mut out = Masks {
        stops: 0,
        lines: 0,
        quotes: 0,
        returns: 0,
    };
    for (i, &b) in chunk.iter().enumerate() {
        let bit = 1u64 << i;
        if b == delimiter || b == b'\n' {
            out.stops |= bit;
        }
        if b == b'\n' {
            out.lines |= bit;
        }
        if b == b'"' {
            out.quotes |= bit;
        }
        if b == b'\r' {
            out.returns |= bit;
        }
    }
    out
}

/// Split the record starting at `at`, calling `field(index, field)` for each field (which
/// returns false to give up), and return where the next record starts. `None` for what this
/// reader leaves to the general scan: a quote inside an unquoted field or after a closing
/// quote, a carriage return not before a line feed, a quoted field without its closing quote.
#[inline]
pub(super) fn split_record(
    buf: &[u8],
    mut at: usize,
    delimiter: u8,
    mut field: impl FnMut(usize, Field) -> bool,
) -> Option<usize> {
    let mut index = 0;
    loop {
        let (text, quoted, escaped, next) = if buf.get(at) == Some(&b'"') {
            let start = at + 1;
            let mut i = start;
            let mut escaped = false;
            let end = loop {
                let q = i + memchr::memchr(b'"', &buf[i..])?;
                if buf.get(q + 1) == Some(&b'"') {
                    escaped = true;
                    i = q + 2;
                } else {
                    break q;
                }
            };
            ((start, end), true, escaped, end + 1)
        } else {
            let end = at
                + buf[at..]
                    .iter()
                    .position(|&b| b == delimiter || b == b'\n' || b == b'\r' || b == b'"')
                    .unwrap_or(buf.len() - at);
            ((at, end), false, false, end)
        };
        let keep = field(
            index,
            Field {
                text,
                quoted,
                escaped,
            },
        );
        if !keep {
            return None;
        }
        index += 1;
        match buf.get(next) {
            None => return Some(next),
            Some(&b) if b == delimiter => at = next + 1,
            Some(b'\n') => return Some(next + 1),
            Some(b'\r') if buf.get(next + 1) == Some(&b'\n') => return Some(next + 2),
            Some(_) => return None,
        }
    }
}

/// The end of the last whole record in `buf` (which starts at a record's start): just after
/// the last line feed outside quotes; `None` when there is none.
pub(super) fn last_record_end(buf: &[u8]) -> Option<usize> {
    let mut end = buf.len();
    // Quotes before `end`, counted once and lowered as `end` moves back.
    let mut quotes = memchr::memchr_iter(b'"', buf).count();
    loop {
        let newline = memchr::memrchr(b'\n', &buf[..end])?;
        quotes -= memchr::memchr_iter(b'"', &buf[newline..end]).count();
        if quotes.is_multiple_of(2) {
            return Some(newline + 1);
        }
        end = newline;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes drawn mostly from the ones the masks look for.
    fn noisy_bytes(seed: u64, len: usize) -> Vec<u8> {
        let alphabet = b",;\n\r\"a1 \x00\xff";
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                alphabet[(state >> 33) as usize % alphabet.len()]
            })
            .collect()
    }

    #[test]
    fn masks_agree_with_the_bytewise_reference() {
        for seed in 0..200 {
            let bytes = noisy_bytes(seed, 64);
            let chunk: &[u8; 64] = bytes.as_slice().try_into().unwrap();
            for delimiter in [b',', b';', b'\t', 0] {
                let (fast, slow) = (masks(chunk, delimiter), masks_bytewise(chunk, delimiter));
                assert_eq!(
                    (fast.stops, fast.lines, fast.quotes, fast.returns),
                    (slow.stops, slow.lines, slow.quotes, slow.returns),
                    "seed {seed}, delimiter {delimiter}"
                );
            }
        }
    }

    /// Every record's fields, by `split_record` from the start (the reference).
    fn records_by_fields(part: &[u8], delimiter: u8) -> Vec<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < part.len() {
            let mut fields = Vec::new();
            at = split_record(part, at, delimiter, |_, f| {
                fields.push(f.text);
                true
            })
            .unwrap();
            out.push(fields);
        }
        out
    }

    /// Every record's fields, read off the marks of `line_stops`.
    fn records_by_marks(part: &[u8], marks: &[u32]) -> Vec<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        let mut fields = Vec::new();
        let mut start = 0;
        for &mark in marks {
            let end = position(mark);
            fields.push((start, end));
            if mark & LINE_END != 0 {
                out.push(std::mem::take(&mut fields));
                start = end + 1 + usize::from(part.get(end) == Some(&b'\r'));
            } else {
                start = end + 1;
            }
        }
        if start < part.len() || !fields.is_empty() {
            fields.push((start, part.len()));
            out.push(fields);
        }
        out
    }

    #[test]
    fn marks_split_records_as_the_field_splitter_does() {
        let lines = [
            "2024-01-01T00:00:00Z,u1,a1,page_viewed,1.5",
            ",,,,",
            "2024-01-02 10:00:00,user-with-a-long-id-0123456789,acct,e,",
            "x,y,z,w,v",
        ];
        for len in 0..200 {
            for crlf in [false, true] {
                let end = if crlf { "\r\n" } else { "\n" };
                let mut text = String::new();
                let mut i = 0;
                while text.len() < len {
                    text.push_str(lines[i % lines.len()]);
                    text.push_str(end);
                    i += 1;
                }
                for cut in [text.len(), text.len().saturating_sub(end.len())] {
                    let part = &text.as_bytes()[..cut];
                    let mut marks = Vec::new();
                    let count = line_stops(part, b',', &mut marks).unwrap();
                    assert_eq!(
                        records_by_marks(part, &marks[..count]),
                        records_by_fields(part, b','),
                        "{len} bytes, crlf {crlf}, cut at {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn quotes_and_lone_carriage_returns_are_left_to_the_field_splitter() {
        let mut marks = Vec::new();
        assert_eq!(line_stops(b"a,\"b\"\n", b',', &mut marks), None);
        assert_eq!(line_stops(b"a,b\rc\n", b',', &mut marks), None);
        assert_eq!(line_stops(b"a,b\r", b',', &mut marks), None);
        // A carriage return ending one chunk, its line feed starting the next.
        let mut text = vec![b'a'; 63];
        text.push(b'\r');
        text.push(b'\n');
        assert_eq!(line_stops(&text, b',', &mut marks), Some(1));
        assert_eq!(marks[0], 63 | LINE_END);
        text[64] = b'b';
        assert_eq!(line_stops(&text, b',', &mut marks), None);
    }

    #[test]
    fn the_last_record_end_is_outside_quotes() {
        assert_eq!(last_record_end(b"a,b\nc,d\ne"), Some(8));
        assert_eq!(last_record_end(b"a,\"b\nc\",d\ne,\"f\ng"), Some(10));
        assert_eq!(last_record_end(b"a,\"b\nc"), None);
        assert_eq!(last_record_end(b"abc"), None);
    }
}
