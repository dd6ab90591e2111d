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

/// Integer sums per cell, remembering which cells were touched (a sum can be 0).
pub enum Sums {
    Dense { width: usize, cells: Vec<i64> },
    Sparse(HashMap<u64, i64, FixedState>),
}

const UNTOUCHED: i64 = i64::MIN;

impl Sums {
    pub fn new(keys: usize, width: usize) -> Sums {
        match keys.checked_mul(width) {
            Some(n) if n <= DENSE_SUM_CELLS => Sums::Dense {
                width,
                cells: vec![UNTOUCHED; n],
            },
            _ => Sums::Sparse(HashMap::with_hasher(hasher())),
        }
    }

    #[inline]
    pub fn add(&mut self, key: usize, id: u32, value: i64) {
        match self {
            Sums::Dense { width, cells } => {
                let cell = &mut cells[key * *width + id as usize];
                *cell = if *cell == UNTOUCHED {
                    value
                } else {
                    *cell + value
                };
            }
            Sums::Sparse(map) => *map.entry(packed(key, id)).or_insert(0) += value,
        }
    }

    /// Every touched cell as `(key, id, sum)`, in no particular order.
    pub fn cells(&self) -> Vec<(usize, u32, i64)> {
        match self {
            Sums::Dense { width, cells } => cells
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != UNTOUCHED)
                .map(|(i, v)| (i / width, (i % width) as u32, *v))
                .collect(),
            Sums::Sparse(map) => map
                .iter()
                .map(|(cell, v)| {
                    let (key, id) = unpacked(*cell);
                    (key, id, *v)
                })
                .collect(),
        }
    }
}

/// A set of cells.
pub enum Bits {
    Dense { width: usize, words: Vec<u64> },
    Sparse(HashSet<u64, FixedState>),
}

impl Bits {
    pub fn new(keys: usize, width: usize) -> Bits {
        match keys.checked_mul(width) {
            Some(n) if n <= DENSE_BIT_CELLS => Bits::Dense {
                width,
                words: vec![0; n.div_ceil(64)],
            },
            _ => Bits::Sparse(HashSet::with_hasher(hasher())),
        }
    }

    #[inline]
    pub fn insert(&mut self, key: usize, id: u32) {
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

    /// Every cell in the set, in no particular order.
    pub fn cells(&self) -> Vec<(usize, u32)> {
        match self {
            Bits::Dense { width, words } => {
                let mut out = Vec::new();
                for (w, word) in words.iter().enumerate() {
                    let mut bits = *word;
                    while bits != 0 {
                        let i = w * 64 + bits.trailing_zeros() as usize;
                        out.push((i / width, (i % width) as u32));
                        bits &= bits - 1;
                    }
                }
                out
            }
            Bits::Sparse(set) => set.iter().map(|cell| unpacked(*cell)).collect(),
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
            let mut cells = sums.cells();
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
            let mut cells = bits.cells();
            cells.sort_unstable();
            assert_eq!(cells, [(0, 0), (1, 63), (1, 64), (2, 69)]);
        }
    }
}
