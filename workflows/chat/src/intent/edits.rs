//! What an edit or regenerate command says: its verb, subject, field and value.

use super::IntentKind;
use super::lexicon::*;
use super::message::*;

/// A regenerate command starts at token `i`: a redo verb, or "do it again|over".
pub(super) fn is_redo(message: &Message<'_>, i: usize) -> bool {
    let word = message.bare(i);
    listed_fuzzy(REDO_VERBS, word).is_some()
        || (word == "do" && matches!(message.bare(i + 2), "again" | "over"))
        || (word == "start" && message.bare(i + 1) == "over")
}

pub(super) fn argmax(scores: &[f32; 4]) -> IntentKind {
    let mut best = IntentKind::Approve;
    for kind in IntentKind::ALL {
        if scores[kind.index()] > scores[best.index()] {
            best = kind;
        }
    }
    best
}

/// A value names a value rather than a direction; see [`VAGUE_VALUES`].
pub(super) fn concrete(value: &str) -> bool {
    words_of(value).first().is_none_or(|w| !listed(VAGUE_VALUES, w))
}

/// Whether a snake_case field is one of [`FIELDS`].
pub(super) fn is_field(field: &str) -> bool {
    listed(FIELDS, field)
}

pub(super) fn is_possessive(token: &Token) -> bool {
    token.lower.ends_with("'s") || token.lower.ends_with("s'")
}

/// A subject as written, lowercased, its possessive dropped: "the detective's" → "the detective".
pub(super) fn subject_of(tokens: &[Token]) -> String {
    let words: Vec<&str> = tokens
        .iter()
        .map(|t| {
            t.lower
                .strip_suffix("'s")
                .or_else(|| t.lower.strip_suffix('\''))
                .unwrap_or(&t.lower)
        })
        .collect();
    words.join(" ")
}

/// Splits the words between an edit verb and its value into subject and snake_case field:
/// "Mara's clothing", "the voice of Mara", "the time of day", "Ava props", "the logline".
pub(super) fn split_field(lhs: &[Token]) -> Option<(Option<String>, String)> {
    let snake = |tokens: &[Token]| -> String {
        tokens
            .iter()
            .map(|t| t.bare.as_str())
            .skip_while(|w| listed(DETERMINERS, w))
            .collect::<Vec<_>>()
            .join("_")
    };
    if let Some(p) = lhs.iter().position(is_possessive) {
        let field = snake(&lhs[p + 1..]);
        return (!field.is_empty()).then(|| (Some(subject_of(&lhs[..=p])), field));
    }
    let skip = lhs.iter().take_while(|t| listed(DETERMINERS, &t.bare)).count();
    let core = &lhs[skip..];
    if core.is_empty() {
        return None;
    }
    let whole = snake(core);
    if is_field(&whole) {
        return Some((None, whole));
    }
    let of = (1..core.len().saturating_sub(1)).filter(|&k| core[k].bare == "of");
    for k in of {
        if is_field(&snake(&core[..k])) || k <= 2 {
            return Some((Some(subject_of(&core[k + 1..])), snake(&core[..k])));
        }
    }
    for s in 1..core.len() {
        if is_field(&snake(&core[s..])) {
            return Some((Some(subject_of(&lhs[..skip + s])), snake(&core[s..])));
        }
    }
    Some((None, whole))
}

/// The value after token `separator`: as written, up to the end of its sentence or a following
/// command ("…, then redo the outline"), without quotes or closing punctuation.
pub(super) fn value_after(message: &Message<'_>, separator: usize) -> Option<String> {
    let tokens = &message.tokens;
    let start = tokens[separator].end;
    let mut end = message.text.len();
    let rest = &message.text[start..];
    let chars: Vec<(usize, char)> = rest.char_indices().collect();
    for (n, &(k, c)) in chars.iter().enumerate() {
        let closes =
            matches!(c, '.' | '!' | '?' | ';') && chars.get(n + 1).is_none_or(|(_, next)| next.is_whitespace());
        if c == '\n' || (closes && k > 0) {
            end = start + k;
            break;
        }
    }
    for j in separator + 2..tokens.len() {
        if tokens[j].start >= end {
            break;
        }
        let command = listed(COMMANDS, message.bare(j)) || is_redo(message, j);
        if command && matches!(message.bare(j - 1), "and" | "then") {
            end = tokens[j - 1].start;
            break;
        }
        if command && tokens[j].clause != tokens[j - 1].clause {
            end = tokens[j - 1].end;
            break;
        }
    }
    let quotes: &[char] = &['"', '\'', '“', '”', '‘', '’', '`'];
    let value = message.text[start..end]
        .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '-'))
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '.' | '!' | '?' | ';'))
        .trim_matches(quotes)
        .trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Whether `message` reads like setting a field to a value without fitting an edit shape: a
/// field word ([`FIELDS`]; "time of day") with "to", "=" or "be" at most two words after it
/// ("I want the title changed to Glasshouse", "age for Cole should be 51") or a number right
/// after it ("make Juno's age 27"). A message with a redo verb ("redo the storyboard, the
/// duration is too long") asks for a regenerate in so many words.
pub(super) fn sets_a_field(message: &Message<'_>) -> bool {
    let n = message.tokens.len();
    if (0..n).any(|i| is_redo(message, i)) {
        return false;
    }
    (0..n).any(|i| {
        let (field, after) = if message.bare(i) == "time" && message.bare(i + 1) == "of" && message.bare(i + 2) == "day"
        {
            (true, i + 3)
        } else {
            (is_field(message.bare(i)), i + 1)
        };
        let marker = (after..(after + 3).min(n)).any(|j| matches!(message.bare(j), "to" | "=" | "be"));
        let number = message.bare(after).parse::<f64>().is_ok();
        field && (marker || number)
    })
}
