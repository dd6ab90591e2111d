//! Tables indexed by (key, id) — a period or week index and an account, user or member code —
//! held as flat arrays when they are small enough and as hash maps otherwise.

use foldhash::fast::FixedState;
use hashbrown::{HashMap, HashSet};

use crate::ingest::activity::hasher;

/// Flat arrays up to this many cells (8 bytes each for sums, one bit each for sets).
const DENSE_SUM_CELLS: usize = 1 << 24;
const DENSE_BIT_CELLS: usize = 1 << 30;

fn packed(key: usize, id: u32) -> u64 {
    ((key as u64) << 32) | u64::from(id)
}

fn unpacked(cell: u64) -> (usize, u32) {
    ((cell >> 32) as usize, cell as u32)
}

/// Call `f(i)` for every bit `i` set in `words`, in increasing order.
fn for_each_bit(words: &[u64], mut f: impl FnMut(usize)) {
    for (w, word) in words.iter().enumerate() {
        let mut bits = *word;
        while bits != 0 {
            f(w * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

/// Integer sums per cell, remembering which cells were touched (a sum can be 0).
///
/// The flat form is zero-initialised (pages the data never touches are never written) with a
/// bitset of touched cells, so listing the cells costs a scan of the bitset, not of the cells.
#[derive(Clone)]
pub(crate) enum Sums {
    Dense {
        width: usize,
        cells: Vec<i64>,
        touched: Vec<u64>,
    },
    Sparse(HashMap<u64, i64, FixedState>),
}

impl Sums {
    pub(crate) fn new(keys: usize, width: usize) -> Sums {
        match keys.checked_mul(width) {
            Some(n) if n <= DENSE_SUM_CELLS => Sums::Dense {
                width,
                cells: vec![0; n],
                touched: vec![0; n.div_ceil(64)],
            },
            _ => Sums::Sparse(HashMap::with_hasher(hasher())),
        }
    }

    #[inline(always)]
    pub(crate) fn add(&mut self, key: usize, id: u32, value: i64) {
        match self {
            Sums::Dense {
                width,
                cells,
                touched,
            } => {
                let i = key * *width + id as usize;
                cells[i] += value;
                touched[i / 64] |= 1 << (i % 64);
            }
            Sums::Sparse(map) => *map.entry(packed(key, id)).or_insert(0) += value,
        }
    }

    /// Whether the table is held flat (its cells listed in (key, id) order).
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self, Sums::Dense { .. })
    }

    /// Add `other`'s cells to these (both flat and of one shape): the table of both sets of
    /// additions, touched where either was.
    pub(crate) fn add_all(&mut self, other: &Sums) {
        match (self, other) {
            (
                Sums::Dense { cells, touched, .. },
                Sums::Dense {
                    cells: more,
                    touched: also,
                    ..
                },
            ) if cells.len() == more.len() => {
                for (cell, more) in cells.iter_mut().zip(more) {
                    *cell += more;
                }
                for (word, also) in touched.iter_mut().zip(also) {
                    *word |= also;
                }
            }
            (this, other) => other.for_each(|key, id, v| this.add(key, id, v)),
        }
    }

    /// Call `f(key, id, sum)` for every touched cell, in no particular order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, u32, i64)) {
        match self {
            Sums::Dense {
                width,
                cells,
                touched,
            } => for_each_bit(touched, |i| f(i / width, (i % width) as u32, cells[i])),
            Sums::Sparse(map) => {
                for (cell, v) in map {
                    let (key, id) = unpacked(*cell);
                    f(key, id, *v);
                }
            }
        }
    }
}

/// A set of cells.
#[derive(Clone)]
pub(crate) enum Bits {
    Dense { width: usize, words: Vec<u64> },
    Sparse(HashSet<u64, FixedState>),
}

impl Bits {
    pub(crate) fn new(keys: usize, width: usize) -> Bits {
        match keys.checked_mul(width) {
            Some(n) if n <= DENSE_BIT_CELLS => Bits::Dense {
                width,
                words: vec![0; n.div_ceil(64)],
            },
            _ => Bits::Sparse(HashSet::with_hasher(hasher())),
        }
    }

    #[inline(always)]
    pub(crate) fn insert(&mut self, key: usize, id: u32) {
        match self {
            Bits::Dense { width, words } => {
                let i = key * *width + id as usize;
                words[i / 64] |= 1 << (i % 64);
            }
            Bits::Sparse(set) => {
                set.insert(packed(key, id));
            }
        }
    }

    /// Whether the set is held flat (its cells listed in (key, id) order).
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self, Bits::Dense { .. })
    }

    /// Add `other`'s cells (both flat and of one shape, or any two sets).
    pub(crate) fn insert_all(&mut self, other: &Bits) {
        match (self, other) {
            (Bits::Dense { words, .. }, Bits::Dense { words: more, .. })
                if words.len() == more.len() =>
            {
                for (word, more) in words.iter_mut().zip(more) {
                    *word |= more;
                }
            }
            (this, other) => other.for_each(|key, id| this.insert(key, id)),
        }
    }

    /// Call `f(key, id)` for every cell in the set, in no particular order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, u32)) {
        match self {
            Bits::Dense { width, words } => {
                for_each_bit(words, |i| f(i / width, (i % width) as u32))
            }
            Bits::Sparse(set) => {
                for cell in set {
                    let (key, id) = unpacked(*cell);
                    f(key, id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both_sums(keys: usize, width: usize) -> [Sums; 2] {
        [
            Sums::new(keys, width),
            Sums::Sparse(HashMap::with_hasher(hasher())),
        ]
    }

    #[test]
    fn dense_and_sparse_sums_agree() {
        for mut sums in both_sums(3, 5) {
            sums.add(2, 4, 7);
            sums.add(2, 4, -7);
            sums.add(0, 1, 3);
            let mut cells = Vec::new();
            sums.for_each(|k, id, v| cells.push((k, id, v)));
            cells.sort_unstable();
            assert_eq!(cells, [(0, 1, 3), (2, 4, 0)]);
        }
    }

    #[test]
    fn dense_and_sparse_bits_agree() {
        for mut bits in [
            Bits::new(3, 70),
            Bits::Sparse(HashSet::with_hasher(hasher())),
        ] {
            for (k, id) in [(2, 69), (0, 0), (2, 69), (1, 63), (1, 64)] {
                bits.insert(k, id);
            }
            let mut cells = Vec::new();
            bits.for_each(|k, id| cells.push((k, id)));
            cells.sort_unstable();
            assert_eq!(cells, [(0, 0), (1, 63), (1, 64), (2, 69)]);
        }
    }
}
