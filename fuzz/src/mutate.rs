//! A small deterministic mutator for the fixed-count runs in `make test`: flips, inserts,
//! deletes, repeats and splices of corpus inputs, with interesting bytes and numbers. Not
//! coverage-guided (that is `make fuzz`'s libFuzzer), but the same every run, so a failure
//! reproduces.

pub struct Mutator {
    state: u64,
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"2147483647",
    b"-2147483649",
    b"1e308",
    b"NaN",
    b"\"\"",
    b"null",
    b"[]",
    b"{}",
    b"&amp;",
    b"&#0;",
    b"<![CDATA[",
    b"]]>",
    b"</",
    b"/>",
    b"%00",
    b"%zz",
    b"%25",
    b"\\u0000",
    b"\\ud800",
    b"\r\n",
    b"\x00",
    b"\xff",
    b"\xc3\x28",
    b"=",
    b"&",
    b"?",
    b"#",
    b"://",
    b"[",
    b"]]",
    b"'''",
    b"\"\"\"",
];

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A mutant of `input` (1 to 4 edits), `other` for splices; at most `max` bytes.
    pub fn mutate(&mut self, input: &[u8], other: &[u8], max: usize) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(v.len() + 1);
            match self.below(8) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
                1 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = self.next() as u8;
                }
                2 if !v.is_empty() => {
                    let n = 1 + self.below(16.min(v.len()));
                    let i = self.below(v.len() - n + 1);
                    v.drain(i..i + n);
                }
                3 => {
                    let word = INTERESTING[self.below(INTERESTING.len())];
                    v.splice(at..at, word.iter().copied());
                }
                4 if !v.is_empty() => {
                    // Repeat a slice: deep nesting and long runs.
                    let n = 1 + self.below(32.min(v.len()));
                    let i = self.below(v.len() - n + 1);
                    let piece = v[i..i + n].to_vec();
                    for _ in 0..1 + self.below(8) {
                        v.splice(i..i, piece.iter().copied());
                    }
                }
                5 if !other.is_empty() => {
                    let i = self.below(other.len());
                    let n = 1 + self.below(other.len() - i);
                    v.splice(at..at, other[i..i + n].iter().copied());
                }
                6 if !v.is_empty() => {
                    // A digit becomes another number.
                    let from = self.below(v.len());
                    if let Some(i) = v[from..]
                        .iter()
                        .position(u8::is_ascii_digit)
                        .map(|i| i + from)
                    {
                        let word = INTERESTING[self.below(6)];
                        v.splice(i..i + 1, word.iter().copied());
                    }
                }
                _ => v.truncate(at),
            }
        }
        v.truncate(max);
        v
    }
}
