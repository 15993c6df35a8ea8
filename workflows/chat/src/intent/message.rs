//! A message cut into tokens (words and symbols, with their clauses), and the pattern questions
//! asked of it.

use super::lexicon::*;

/// One word (or symbol) of a message, with where it sits in the original text.
#[derive(Debug)]
pub(super) struct Token {
    /// Lowercase, with typographic apostrophes made plain.
    pub(super) lower: String,
    /// `lower` without apostrophes and hyphens: what cues match.
    pub(super) bare: String,
    /// Byte range in the original text.
    pub(super) start: usize,
    pub(super) end: usize,
    /// Which clause (split at `, ; . ! ? :` and dashes) it is in.
    pub(super) clause: usize,
}

/// A message cut into tokens.
#[derive(Debug)]
pub(super) struct Message<'a> {
    pub(super) text: &'a str,
    pub(super) tokens: Vec<Token>,
    /// The last visible character is a `?`.
    pub(super) question_mark: bool,
}

/// Characters that carry nothing: emoji modifiers and joiners.
pub(super) fn ignorable(c: char) -> bool {
    matches!(c, '\u{fe0f}' | '\u{200d}' | '\u{1f3fb}'..='\u{1f3ff}')
}

impl<'a> Message<'a> {
    pub(super) fn parse(text: &'a str) -> Self {
        let mut message = Message {
            text,
            tokens: Vec::new(),
            question_mark: text.trim_end().trim_end_matches('!').ends_with('?'),
        };
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut clause = 0;
        let mut word_start = None;
        for (n, &(i, c)) in chars.iter().enumerate() {
            if c.is_alphanumeric() || matches!(c, '\'' | '’' | '-') {
                word_start.get_or_insert(i);
                continue;
            }
            if let Some(start) = word_start.take() {
                message.push_word(start, i, &mut clause);
            }
            let digit_at = |k: Option<usize>| k.and_then(|k| chars.get(k)).is_some_and(|(_, c)| c.is_ascii_digit());
            match c {
                '.' | ':' if digit_at(n.checked_sub(1)) && digit_at(Some(n + 1)) => {}
                ',' | ';' | '.' | '!' | '?' | ':' | '…' | '—' | '–' | '(' | ')' | '\n' => clause += 1,
                '=' => message.push(i, i + 1, clause),
                c if !c.is_ascii() && !c.is_whitespace() && !ignorable(c) && !matches!(c, '“' | '”' | '‘') => {
                    message.push(i, i + c.len_utf8(), clause)
                }
                _ => {}
            }
        }
        if let Some(start) = word_start {
            message.push_word(start, text.len(), &mut clause);
        }
        message
    }

    /// Adds the word at `start..end`, trimmed of quotes and dashes around it (a trailing
    /// apostrophe after an `s` is a possessive and stays). A lone dash splits clauses.
    pub(super) fn push_word(&mut self, mut start: usize, mut end: usize, clause: &mut usize) {
        let text = self.text;
        while let Some(c) = text[start..end]
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '’' | '-'))
        {
            start += c.len_utf8();
        }
        while let Some(c) = text[start..end].chars().next_back() {
            let possessive = matches!(c, '\'' | '’') && text[start..end - c.len_utf8()].ends_with(['s', 'S']);
            if !matches!(c, '\'' | '’' | '-') || possessive {
                break;
            }
            end -= c.len_utf8();
        }
        if start >= end {
            *clause += 1;
            return;
        }
        self.push(start, end, *clause);
    }

    pub(super) fn push(&mut self, start: usize, end: usize, clause: usize) {
        let lower = self.text[start..end].to_lowercase().replace('’', "'");
        let bare = lower.replace(['\'', '-'], "");
        self.tokens.push(Token {
            lower,
            bare,
            start,
            end,
            clause,
        });
    }

    pub(super) fn bare(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.bare.as_str())
    }

    /// The token ranges of the clauses, in order, empty ones left out.
    pub(super) fn clauses(&self) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (i, token) in self.tokens.iter().enumerate() {
            match ranges.last_mut() {
                Some(last) if self.tokens[last.0].clause == token.clause => last.1 = i + 1,
                _ => ranges.push((i, i + 1)),
            }
        }
        ranges
    }

    /// Where the substance of the clause `from..to` starts: after fillers and polite request
    /// wrappers. The flag says whether there was a request wrapper ("can you", "please").
    pub(super) fn lead(&self, from: usize, to: usize) -> (usize, bool) {
        let mut i = from;
        let mut request = false;
        while i < to {
            let (w0, w1, w2) = (self.bare(i), self.bare(i + 1), self.bare(i + 2));
            let skip = match (w0, w1, w2) {
                ("can" | "could" | "would" | "will", "you" | "u", _) => 2,
                ("let", "us", _) => 2,
                ("id" | "i" | "wed" | "we", "like" | "want" | "need", "you") if self.bare(i + 3) == "to" => 4,
                ("id" | "wed", "like", "to") | ("i" | "we", "want" | "need", "to") => 3,
                ("please" | "pls" | "plz" | "kindly" | "lets", _, _) => 1,
                _ if listed(FILLERS, w0) && i + 1 < to => {
                    i += 1;
                    continue;
                }
                _ => 0,
            };
            if skip == 0 {
                break;
            }
            request = true;
            i += skip;
        }
        (i.min(to), request)
    }

    /// The message opens as a question, or is a single question-marked clause that is not a
    /// command. A request wrapper ("can you …?") makes it a command.
    pub(super) fn is_question(&self) -> bool {
        let clauses = self.clauses();
        let substantive = clauses
            .iter()
            .find(|&&(from, to)| (from..to).any(|i| !listed(FILLERS, self.bare(i))));
        let Some(&(from, to)) = substantive else {
            return false;
        };
        let (i, request) = self.lead(from, to);
        if request || i >= to {
            return false;
        }
        let (w0, w1) = (self.bare(i), if i + 1 < to { self.bare(i + 1) } else { "" });
        if listed(QUESTION_WORDS, w0) {
            return !matches!((w0, w1), ("how" | "what", "about") | ("why", "not"));
        }
        if w0 == "do" {
            return matches!(w1, "i" | "we" | "you" | "they");
        }
        if listed(AUXILIARIES, w0) && listed(SUBJECTS, w1) {
            return true;
        }
        let last_clause = clauses.last().map_or(from, |&(f, _)| f);
        self.question_mark && last_clause == from && !listed(COMMANDS, w0)
    }
}
