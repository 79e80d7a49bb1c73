//! Stop strings: where generated text ends because one of the given strings appears in it.
//!
//! [`find_stop`] scans a whole text once. [`StopScanner`] follows a generation as it grows,
//! rescanning only the tail a new match can lie in — the new text plus the `max stop length −
//! 1` bytes before it — so a stop string split across tokens (`<|im_` + `end|>`) is found the
//! step it completes, and a long generation is not rescanned from the start every token.
//! Because the text before the tail held no stop string, the first match in the tail is the
//! first in the whole text.

/// A stop string found in a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopMatch {
    /// Byte offset where the text is cut: the start of the stop string (which is dropped).
    pub at: usize,
    /// Index of the stop string, in the list given (the first listed among those starting at
    /// the same place).
    pub stop: usize,
}

/// The earliest occurrence in `text` of any of `stops` (empty ones never match).
pub fn find_stop<S: AsRef<str>>(text: &str, stops: &[S]) -> Option<StopMatch> {
    find_from(text, 0, stops)
}

/// [`find_stop`] for matches starting at byte `from` (a char boundary) or later.
fn find_from<S: AsRef<str>>(text: &str, from: usize, stops: &[S]) -> Option<StopMatch> {
    let tail = &text[from..];
    stops
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.as_ref().is_empty())
        .filter_map(|(i, s)| {
            tail.find(s.as_ref()).map(|p| StopMatch {
                at: from + p,
                stop: i,
            })
        })
        .min_by_key(|m| (m.at, m.stop))
}

/// The largest char boundary of `text` at or below `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Follows the text of one generation and reports the first stop string in it.
#[derive(Clone, Debug)]
pub struct StopScanner {
    stops: Vec<String>,
    /// Length in bytes of the longest stop string.
    max_len: usize,
    text: String,
    found: Option<StopMatch>,
}

impl StopScanner {
    /// A scanner for `stops` (empty strings are ignored) over an empty text.
    pub fn new<S: AsRef<str>>(stops: &[S]) -> Self {
        let stops: Vec<String> = stops.iter().map(|s| s.as_ref().to_string()).collect();
        StopScanner {
            max_len: stops.iter().map(String::len).max().unwrap_or(0),
            stops,
            text: String::new(),
            found: None,
        }
    }

    /// Append `piece` (the decoded text of new tokens) and return the stop, if the text now
    /// holds one. Once a stop is found the text is cut there and further pieces are ignored.
    pub fn push(&mut self, piece: &str) -> Option<StopMatch> {
        if self.found.is_some() {
            return self.found;
        }
        let old = self.text.len();
        self.text.push_str(piece);
        let from = floor_boundary(
            &self.text,
            old.saturating_sub(self.max_len.saturating_sub(1)),
        );
        self.found = find_from(&self.text, from, &self.stops);
        if let Some(m) = self.found {
            self.text.truncate(m.at);
        }
        self.found
    }

    /// Give the whole text generated so far (decoding all tokens again, say). Its end may
    /// differ from the previous call's — an incomplete UTF-8 character decoded as U+FFFD that
    /// the next token completes — and only the text from the first difference on, with the
    /// stop-length margin before it, is scanned.
    pub fn update(&mut self, full: &str) -> Option<StopMatch> {
        if self.found.is_some() {
            return self.found;
        }
        let common = self
            .text
            .bytes()
            .zip(full.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let common = floor_boundary(full, common);
        self.text.truncate(common);
        self.push(&full[common..])
    }

    /// The text so far, cut before the stop string once one is found.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The stop found, if any.
    pub fn found(&self) -> Option<StopMatch> {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_stop_wins() {
        let stops = ["END", "\n\n", "</answer>"];
        assert_eq!(
            find_stop("a\n\nb END", &stops),
            Some(StopMatch { at: 1, stop: 1 })
        );
        assert_eq!(
            find_stop("x</answer>\n\nEND", &stops),
            Some(StopMatch { at: 1, stop: 2 })
        );
        assert_eq!(find_stop("nothing here", &stops), None);
        // Two stops at the same place: the first listed.
        assert_eq!(
            find_stop("abc", &["abc", "ab"]),
            Some(StopMatch { at: 0, stop: 0 })
        );
        assert_eq!(
            find_stop("abc", &["", "c"]),
            Some(StopMatch { at: 2, stop: 1 })
        );
        assert_eq!(find_stop::<&str>("abc", &[]), None);
    }

    #[test]
    fn a_stop_split_across_two_tokens() {
        let mut s = StopScanner::new(&["<|im_end|>"]);
        assert_eq!(s.push("Paris.<|im_"), None);
        assert_eq!(s.text(), "Paris.<|im_");
        assert_eq!(s.push("end|> and more"), Some(StopMatch { at: 6, stop: 0 }));
        assert_eq!(s.text(), "Paris.");
        // Later pieces are ignored.
        assert_eq!(s.push("<|im_end|>"), Some(StopMatch { at: 6, stop: 0 }));
        assert_eq!(s.text(), "Paris.");
        // Split three ways, one character at a time.
        let mut s = StopScanner::new(&["</answer>", "\n\n"]);
        for c in "4</ans".chars() {
            assert_eq!(s.push(&c.to_string()), None);
        }
        assert_eq!(s.push("wer"), None);
        assert_eq!(s.push(">"), Some(StopMatch { at: 1, stop: 0 }));
    }

    /// Streaming over every way of cutting a text in three equals one scan of the whole.
    #[test]
    fn streaming_equals_a_full_scan_for_every_split() {
        let stops = ["ab", "bca", "é!", "\n\n"];
        for text in [
            "xxabyy",
            "zbcaab",
            "naïve é! ok",
            "a\n\nb",
            "bcbcbc",
            "no stop",
        ] {
            let want = find_stop(text, &stops);
            let cuts: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            for &i in &cuts {
                for &j in cuts.iter().filter(|&&j| j >= i) {
                    let mut s = StopScanner::new(&stops);
                    let mut got = s.push(&text[..i]);
                    for piece in [&text[i..j], &text[j..]] {
                        if got.is_none() {
                            got = s.push(piece);
                        }
                    }
                    assert_eq!(got, want, "{text:?} cut at {i}, {j}");
                    let end = want.map_or(text.len(), |m| m.at);
                    assert_eq!(s.text(), &text[..end]);
                }
            }
        }
    }

    #[test]
    fn update_follows_a_rewritten_tail() {
        let mut s = StopScanner::new(&["é</s>"]);
        // "é" is two bytes; decoding after the first gives U+FFFD.
        assert_eq!(s.update("ab\u{fffd}"), None);
        assert_eq!(s.update("abé</"), None);
        assert_eq!(s.update("abé</s> tail"), Some(StopMatch { at: 2, stop: 0 }));
        assert_eq!(s.text(), "ab");
    }
}
