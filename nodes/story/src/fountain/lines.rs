//! The text before parsing: boneyard and notes removed (keeping line numbers), blank lines, and
//! the title page.

use super::{FountainError, FountainErrorKind, Line, err};

/// An empty line: nothing but whitespace, unless it starts with two spaces (Fountain's way to
/// keep a blank line inside a speech or a paragraph).
pub(super) fn is_blank(line: &str) -> bool {
    line.trim().is_empty() && !line.starts_with("  ")
}

/// Removes boneyard `/* */` and notes `[[ ]]`, keeping each remaining line's original number.
pub(super) fn strip_comments(text: &str) -> Result<Vec<Line>, FountainError> {
    enum State {
        Text,
        Boneyard(usize),
        Note(usize),
    }
    let mut state = State::Text;
    let mut out = Vec::new();
    // The logical line being built: its text, first line, and whether anything was removed.
    let mut current: Option<(String, usize, bool)> = None;
    for (idx, raw) in text.split('\n').enumerate() {
        let no = idx + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let State::Note(start) = state
            && is_blank(raw)
        {
            return Err(err(start, FountainErrorKind::UnterminatedNote));
        }
        let (buf, _, removed) = current.get_or_insert_with(|| (String::new(), no, false));
        let mut rest = raw;
        while !rest.is_empty() {
            match state {
                State::Text => {
                    let bone = rest.find("/*");
                    let note = rest.find("[[");
                    let (at, next) = match (bone, note) {
                        (Some(b), Some(n)) if n < b => (n, State::Note(no)),
                        (Some(b), _) => (b, State::Boneyard(no)),
                        (None, Some(n)) => (n, State::Note(no)),
                        (None, None) => {
                            buf.push_str(rest);
                            break;
                        }
                    };
                    buf.push_str(&rest[..at]);
                    rest = &rest[at + 2..];
                    *removed = true;
                    state = next;
                }
                State::Boneyard(_) | State::Note(_) => {
                    let close = if matches!(state, State::Boneyard(_)) {
                        "*/"
                    } else {
                        "]]"
                    };
                    match rest.find(close) {
                        Some(at) => {
                            rest = &rest[at + 2..];
                            state = State::Text;
                        }
                        None => break,
                    }
                }
            }
        }
        if matches!(state, State::Text)
            && let Some((text, first, removed)) = current.take()
            && !(removed && text.trim().is_empty())
        {
            out.push(Line { text, no: first });
        }
    }
    match state {
        State::Text => Ok(out),
        State::Boneyard(start) => Err(err(start, FountainErrorKind::UnterminatedBoneyard)),
        State::Note(start) => Err(err(start, FountainErrorKind::UnterminatedNote)),
    }
}

/// Title-page keys recognised even when written in capitals.
pub(super) const TITLE_KEYS: &[&str] = &[
    "title",
    "credit",
    "author",
    "authors",
    "source",
    "draft date",
    "date",
    "contact",
    "copyright",
    "notes",
    "revision",
];

/// A title-page `Key: value` line: the key (trimmed) and the value.
pub(super) fn title_key(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic());
    let rest_ok = chars.all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-'));
    (first_ok && rest_ok && key.len() <= 40).then_some((key, value))
}

/// Finds the title page at the start: the title, and the index of the first body line.
pub(super) fn title_page(lines: &[Line]) -> (Option<String>, usize) {
    let Some(first) = lines.iter().position(|l| !is_blank(&l.text)) else {
        return (None, 0);
    };
    let opens = title_key(lines[first].text.trim()).is_some_and(|(key, _)| {
        TITLE_KEYS.contains(&key.to_lowercase().as_str()) || key.chars().any(char::is_lowercase)
    });
    if !opens {
        return (None, 0);
    }
    let mut title: Option<Vec<String>> = None;
    let mut in_title = false;
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(first) {
        if is_blank(&line.text) {
            end = i;
            break;
        }
        let indented = line.text.starts_with('\t') || line.text.starts_with("   ");
        match title_key(&line.text) {
            Some((key, value)) if !indented => {
                in_title = key.eq_ignore_ascii_case("title");
                if in_title {
                    title = Some(vec![value.trim().to_owned()]);
                }
            }
            _ => {
                if in_title && let Some(parts) = title.as_mut() {
                    parts.push(line.text.trim().to_owned());
                }
            }
        }
    }
    let title = title
        .map(|parts| {
            parts
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|t| !t.is_empty());
    (title, end)
}
