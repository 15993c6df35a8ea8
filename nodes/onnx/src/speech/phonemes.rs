//! From espeak-ng's clauses to Piper's phoneme ids, as piper-tts 1.8 does it
//! (`phonemize_espeak.py`, `phoneme_ids.py`): each clause's IPA without espeak's language-switch
//! flags, followed by its punctuation (and a space after `,` `:` `;`), decomposed into Unicode
//! NFD code points, grouped into sentences at `.` `?` `!`; each sentence becomes
//! `^ _ p₁ _ p₂ _ … pₙ _ $` through the voice's `phoneme_id_map`.
//!
//! Piper's espeak-ng build reports the punctuation that ended each clause; the stock library
//! does not, so [`Terminator::of`] reads it from the text the clause consumed.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use super::espeak::Clause;

/// Piper's beginning-of-sentence symbol.
pub const BOS: char = '^';
/// Piper's end-of-sentence symbol.
pub const EOS: char = '$';
/// Piper's padding symbol, put after every phoneme.
pub const PAD: char = '_';

/// The punctuation that ended a clause: what Piper keeps of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    /// `.`
    Period,
    /// `?`
    Question,
    /// `!`
    Exclamation,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `;`
    Semicolon,
}

impl Terminator {
    /// The mark written into the phonemes.
    pub fn mark(self) -> char {
        match self {
            Terminator::Period => '.',
            Terminator::Question => '?',
            Terminator::Exclamation => '!',
            Terminator::Comma => ',',
            Terminator::Colon => ':',
            Terminator::Semicolon => ';',
        }
    }

    /// Whether the clause ends a sentence (Piper synthesises each sentence apart).
    pub fn ends_sentence(self) -> bool {
        matches!(
            self,
            Terminator::Period | Terminator::Question | Terminator::Exclamation
        )
    }

    fn from_mark(c: char) -> Option<Terminator> {
        Some(match c {
            '.' => Terminator::Period,
            '?' => Terminator::Question,
            '!' => Terminator::Exclamation,
            ',' => Terminator::Comma,
            ':' => Terminator::Colon,
            ';' => Terminator::Semicolon,
            _ => return None,
        })
    }

    /// The punctuation that ended the clause whose consumed text is `text`.
    ///
    /// espeak-ng stops a clause after its punctuation and reads on to the first character of
    /// the next word (or an opening quote), so the end of `text` is: the clause, its punctuation,
    /// closing or opening quotes and brackets and spaces, then the start of the next word. That
    /// tail is skipped and the run of punctuation before it read: its first mark is the
    /// terminator (`?!` is a question), an ellipsis (`...`, `…`) is none (espeak-ng calls it a
    /// pause, and Piper writes nothing for it), and no punctuation is none (a clause espeak-ng
    /// cut for length, or the text's end).
    pub fn of(text: &str) -> Option<Terminator> {
        let text = text.trim_end_matches(char::is_alphanumeric);
        let text = text.trim_end_matches(|c: char| c.is_whitespace() || is_quote_or_bracket(c));
        let start = text
            .char_indices()
            .rev()
            .take_while(|&(_, c)| Terminator::from_mark(c).is_some() || c == '…')
            .last()
            .map_or(text.len(), |(i, _)| i);
        let run = &text[start..];
        if run.contains('…') || run.matches('.').count() > 1 {
            return None;
        }
        run.chars().next().and_then(Terminator::from_mark)
    }
}

/// Quotes and brackets that may stand between a clause's punctuation and the next clause.
fn is_quote_or_bracket(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '“' | '”' | '‘' | '’' | '«' | '»'
    )
}

/// Removes espeak-ng's language-switch flags, `(fr)` … `(en)`, around words of another
/// language (Piper's `re.sub(r"\([^)]+\)", "", phonemes)`).
fn strip_language_flags(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close) if close > 0 => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The phonemes of each sentence of the clauses, one `char` (an NFD code point) per phoneme, as
/// Piper groups them; sentences with no phoneme are left out.
pub fn sentences(clauses: &[Clause]) -> Vec<Vec<char>> {
    let mut sentences = Vec::new();
    let mut sentence: Vec<char> = Vec::new();
    for clause in clauses {
        let mut phonemes = strip_language_flags(&clause.phonemes);
        let terminator = Terminator::of(&clause.text);
        if let Some(terminator) = terminator {
            phonemes.push(terminator.mark());
            if !terminator.ends_sentence() {
                phonemes.push(' ');
            }
        }
        sentence.extend(phonemes.nfd());
        if terminator.is_some_and(Terminator::ends_sentence) && !sentence.is_empty() {
            sentences.push(std::mem::take(&mut sentence));
        }
    }
    if !sentence.is_empty() {
        sentences.push(sentence);
    }
    sentences
}

/// A voice's `phoneme_id_map`: each phoneme's ids.
#[derive(Debug, Clone)]
pub struct IdMap {
    ids: HashMap<char, Vec<i64>>,
    bos: Vec<i64>,
    eos: Vec<i64>,
    pad: Vec<i64>,
}

impl IdMap {
    /// The map from a voice's JSON map (phoneme → ids). Keys of more than one code point are
    /// skipped: only Piper's vowel-cluster merging makes such phonemes, and voices that use it
    /// are refused before this.
    ///
    /// # Errors
    ///
    /// A message naming the missing symbol when `^`, `$` or `_` has no ids.
    pub fn new(map: &HashMap<String, Vec<i64>>) -> Result<IdMap, String> {
        let ids: HashMap<char, Vec<i64>> = map
            .iter()
            .filter_map(|(key, ids)| {
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some((c, ids.clone())),
                    _ => None,
                }
            })
            .collect();
        let symbol = |c: char| {
            ids.get(&c)
                .filter(|ids| !ids.is_empty())
                .cloned()
                .ok_or_else(|| format!("the phoneme_id_map has no `{c}`"))
        };
        Ok(IdMap {
            bos: symbol(BOS)?,
            eos: symbol(EOS)?,
            pad: symbol(PAD)?,
            ids,
        })
    }

    /// A sentence's ids: `^ _`, each phoneme's ids then `_`, then `$`. Phonemes the voice does
    /// not know are skipped, as Piper does, and returned apart.
    pub fn ids(&self, phonemes: &[char]) -> (Vec<i64>, Vec<char>) {
        let mut ids = Vec::with_capacity(2 * phonemes.len() + 3);
        let mut missing = Vec::new();
        ids.extend_from_slice(&self.bos);
        ids.extend_from_slice(&self.pad);
        for phoneme in phonemes {
            match self.ids.get(phoneme) {
                Some(phoneme_ids) => {
                    ids.extend_from_slice(phoneme_ids);
                    ids.extend_from_slice(&self.pad);
                }
                None => missing.push(*phoneme),
            }
        }
        ids.extend_from_slice(&self.eos);
        (ids, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(phonemes: &str, text: &str) -> Clause {
        Clause {
            phonemes: phonemes.into(),
            text: text.into(),
        }
    }

    #[test]
    fn terminators_are_read_past_the_lookahead() {
        // The texts espeak-ng 1.52 consumed for each clause of real sentences.
        let cases = [
            ("Hello world.", Some(Terminator::Period)),
            ("Hello, w", Some(Terminator::Comma)),
            ("orld! H", Some(Terminator::Exclamation)),
            ("ow are you today? I", Some(Terminator::Question)),
            (" am fine; t", Some(Terminator::Semicolon)),
            ("hanks: r", Some(Terminator::Colon)),
            ("\"Wait,\"", Some(Terminator::Comma)),
            (" she said. \"", Some(Terminator::Period)),
            ("Don't go—not yet...\"", None),
            ("and then…", None),
            ("at 5:30 p.m. on Dr. S", Some(Terminator::Period)),
            ("Really?! N", Some(Terminator::Question)),
            ("a clause cut for length with 3.5 k", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(Terminator::of(text), want, "{text:?}");
        }
    }

    #[test]
    fn clauses_group_into_sentences_as_piper_does() {
        // espeak-ng's clauses of "Hello, world! How are you today?".
        let clauses = [
            clause("həlˈoʊ", "Hello, w"),
            clause("wˈɜːld", "orld! H"),
            clause("hˌaʊ ɑːɹ juː tədˈeɪ", "ow are you today?"),
        ];
        let sentences: Vec<String> = sentences(&clauses).iter().map(|s| s.iter().collect()).collect();
        // piper-tts 1.8 phonemizes the same text to these two sentences.
        assert_eq!(sentences, ["həlˈoʊ, wˈɜːld!", "hˌaʊ ɑːɹ juː tədˈeɪ?"]);
    }

    #[test]
    fn language_flags_go_and_accents_decompose() {
        let clauses = [clause("(fr)kafˈe(en) ˈɪz", "café is"), clause("", "")];
        let grouped = sentences(&clauses);
        assert_eq!(grouped.len(), 1);
        let text: String = grouped[0].iter().collect();
        assert_eq!(text, "kafˈe ˈɪz");
        let decomposed = sentences(&[clause("ç", "x.")]);
        assert_eq!(decomposed, [vec!['c', '\u{327}', '.']]);
        assert_eq!(strip_language_flags("a(b"), "a(b");
        assert_eq!(strip_language_flags("a()b"), "a()b");
    }

    #[test]
    fn ids_are_padded_and_framed() {
        let map: HashMap<String, Vec<i64>> = [("_", 0), ("^", 1), ("$", 2), (" ", 3), ("h", 20), ("ə", 59)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), vec![v]))
            .chain([("aɪ".to_string(), vec![99])])
            .collect();
        let map = IdMap::new(&map).expect("map");
        let (ids, missing) = map.ids(&['h', 'ə', 'x', ' ']);
        assert_eq!(ids, [1, 0, 20, 0, 59, 0, 3, 0, 2]);
        assert_eq!(missing, ['x']);
        assert_eq!(map.ids(&[]).0, [1, 0, 2]);
        let without_pad: HashMap<String, Vec<i64>> = [("^".to_string(), vec![1]), ("$".to_string(), vec![2])].into();
        assert!(IdMap::new(&without_pad).is_err_and(|e| e.contains('_')));
    }
}
