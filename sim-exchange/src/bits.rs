//! A two-level bitset over price levels: which levels of one side hold orders.
//!
//! The top level has one bit per 64-bit word, so finding the next non-empty level
//! looks at one word, then at most `levels / 4096` summary words.

/// Occupied price levels of one book side.
#[derive(Clone, Debug)]
pub(crate) struct LevelBits {
    words: Vec<u64>,
    summary: Vec<u64>,
}

impl LevelBits {
    /// An empty set over `levels` indices.
    pub(crate) fn new(levels: usize) -> LevelBits {
        let words = levels.div_ceil(64).max(1);
        LevelBits { words: vec![0; words], summary: vec![0; words.div_ceil(64)] }
    }

    #[inline]
    pub(crate) fn set(&mut self, i: usize) {
        let w = i >> 6;
        self.words[w] |= 1 << (i & 63);
        self.summary[w >> 6] |= 1 << (w & 63);
    }

    #[inline]
    pub(crate) fn clear(&mut self, i: usize) {
        let w = i >> 6;
        self.words[w] &= !(1u64 << (i & 63));
        if self.words[w] == 0 {
            self.summary[w >> 6] &= !(1u64 << (w & 63));
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i >> 6] & (1 << (i & 63)) != 0
    }

    /// The smallest set index `>= i`.
    #[inline]
    pub(crate) fn next_at_or_above(&self, i: usize) -> Option<usize> {
        let w = i >> 6;
        if w >= self.words.len() {
            return None;
        }
        let m = self.words[w] & (!0u64 << (i & 63));
        if m != 0 {
            return Some((w << 6) | m.trailing_zeros() as usize);
        }
        let w = w + 1;
        let mut s = w >> 6;
        if s >= self.summary.len() {
            return None;
        }
        let mut m =
            if w & 63 == 0 { self.summary[s] } else { self.summary[s] & (!0u64 << (w & 63)) };
        loop {
            if m != 0 {
                let word = (s << 6) | m.trailing_zeros() as usize;
                return Some((word << 6) | self.words[word].trailing_zeros() as usize);
            }
            s += 1;
            if s >= self.summary.len() {
                return None;
            }
            m = self.summary[s];
        }
    }

    /// The largest set index `<= i`.
    #[inline]
    pub(crate) fn next_at_or_below(&self, i: usize) -> Option<usize> {
        let w = i >> 6;
        if w >= self.words.len() {
            return self.next_at_or_below(self.words.len() * 64 - 1);
        }
        let m = self.words[w] & (!0u64 >> (63 - (i & 63)));
        if m != 0 {
            return Some((w << 6) | (63 - m.leading_zeros() as usize));
        }
        if w == 0 {
            return None;
        }
        let w = w - 1;
        let mut s = w >> 6;
        let mut m = self.summary[s] & (!0u64 >> (63 - (w & 63)));
        loop {
            if m != 0 {
                let word = (s << 6) | (63 - m.leading_zeros() as usize);
                return Some((word << 6) | (63 - self.words[word].leading_zeros() as usize));
            }
            if s == 0 {
                return None;
            }
            s -= 1;
            m = self.summary[s];
        }
    }

    /// Checks that the summary matches the words.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (w, &word) in self.words.iter().enumerate() {
            let summary_bit = self.summary[w >> 6] & (1 << (w & 63)) != 0;
            if summary_bit != (word != 0) {
                return Err(format!("level bitset summary disagrees at word {w}"));
            }
        }
        Ok(())
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        (self.words.len() + self.summary.len()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_neighbours_across_words_and_summaries() {
        let n = 64 * 64 * 3 + 17;
        let mut bits = LevelBits::new(n);
        assert_eq!(bits.next_at_or_above(0), None);
        assert_eq!(bits.next_at_or_below(n - 1), None);
        for i in [0, 5, 63, 64, 4095, 4096, 9000, n - 1] {
            bits.set(i);
        }
        let set: Vec<usize> = vec![0, 5, 63, 64, 4095, 4096, 9000, n - 1];
        for probe in 0..n {
            let up = set.iter().copied().find(|&s| s >= probe);
            let down = set.iter().rev().copied().find(|&s| s <= probe);
            assert_eq!(bits.next_at_or_above(probe), up, "above {probe}");
            assert_eq!(bits.next_at_or_below(probe), down, "below {probe}");
        }
        bits.clear(4096);
        bits.clear(9000);
        assert_eq!(bits.next_at_or_above(4096), Some(n - 1));
        assert_eq!(bits.next_at_or_below(12000), Some(4095));
        assert!(bits.get(4095) && !bits.get(4096));
        bits.validate().unwrap();
    }
}
