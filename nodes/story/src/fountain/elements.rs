//! The elements of a screenplay's body recognised line by line: scene headings (with their
//! INT./EXT. prefix, scene number and time of day), character cues, transitions.

use super::{FountainError, FountainErrorKind, IntExt, err};

/// What a scene heading says.
pub(super) struct Heading {
    pub(super) heading: String,
    pub(super) int_ext: Option<IntExt>,
    pub(super) location: String,
    pub(super) time_of_day: Option<String>,
}

/// Heading prefixes, longest first, lowercase.
pub(super) const PREFIXES: &[(&str, IntExt)] = &[
    ("int./ext", IntExt::Both),
    ("ext./int", IntExt::Both),
    ("int/ext", IntExt::Both),
    ("ext/int", IntExt::Both),
    ("i/e", IntExt::Both),
    ("int", IntExt::Interior),
    ("ext", IntExt::Exterior),
    ("est", IntExt::Establishing),
];

/// Matches a heading prefix: the prefix and the rest after it (past a `.` and spaces).
pub(super) fn heading_prefix(line: &str) -> Option<(IntExt, &str)> {
    PREFIXES.iter().find_map(|&(prefix, kind)| {
        let head = line.get(..prefix.len())?;
        if !head.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let rest = &line[prefix.len()..];
        rest.starts_with(['.', ' '])
            .then(|| (kind, rest.trim_start_matches('.').trim_start()))
    })
}

/// Removes a trailing scene number `#12A#`.
pub(super) fn strip_scene_number(line: &str) -> &str {
    let Some(inner) = line.strip_suffix('#') else {
        return line;
    };
    match inner.rfind('#') {
        Some(at)
            if inner[at + 1..]
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-')) =>
        {
            inner[..at].trim_end()
        }
        _ => line,
    }
}

/// Reads a scene heading, if `line` (trimmed) is one.
pub(super) fn scene_heading(line: &str, no: usize) -> Option<Result<Heading, FountainError>> {
    let (text, int_ext, rest) = if let Some(forced) = line.strip_prefix('.') {
        if forced.starts_with('.') || forced.starts_with(char::is_whitespace) || forced.is_empty() {
            return None;
        }
        let text = strip_scene_number(forced);
        match heading_prefix(text) {
            Some((kind, rest)) => (text, Some(kind), rest),
            None => (text, None, text),
        }
    } else {
        let text = strip_scene_number(line);
        let (kind, rest) = heading_prefix(text)?;
        (text, Some(kind), rest)
    };
    let (location, time_of_day) = split_time(rest);
    if location.is_empty() {
        return Some(Err(err(no, FountainErrorKind::HeadingWithoutLocation)));
    }
    Some(Ok(Heading {
        heading: text.to_owned(),
        int_ext,
        location,
        time_of_day,
    }))
}

/// Splits `LOCATION - TIME` at the last ` - ` (or en/em dash).
pub(super) fn split_time(rest: &str) -> (String, Option<String>) {
    let padded = format!(" {} ", rest.trim());
    let found = [" - ", " \u{2013} ", " \u{2014} "]
        .iter()
        .filter_map(|sep| padded.rfind(sep).map(|at| (at, sep.len())))
        .max_by_key(|&(at, _)| at);
    match found {
        Some((at, len)) => {
            let time = padded[at + len..].trim();
            (
                padded[..at].trim().to_owned(),
                (!time.is_empty()).then(|| time.to_owned()),
            )
        }
        None => (padded.trim().to_owned(), None),
    }
}

/// A character cue: the name as written (without extension or caret), and whether it is
/// unmistakably a cue (forced with `@`, or carrying an extension).
pub(super) struct Cue {
    pub(super) name: String,
    pub(super) certain: bool,
}

/// Reads a character cue, if `line` (trimmed) could be one.
pub(super) fn character_cue(line: &str) -> Option<Cue> {
    let line = line.strip_suffix('^').unwrap_or(line).trim_end();
    if let Some(forced) = line.strip_prefix('@') {
        let name = forced.split('(').next().unwrap_or_default().trim();
        return name.chars().any(char::is_alphanumeric).then(|| Cue {
            name: name.to_owned(),
            certain: true,
        });
    }
    let (name, extension) = match line.find('(') {
        Some(at) => (line[..at].trim(), Some(&line[at..])),
        None => (line, None),
    };
    if extension.is_some_and(|e| !e.ends_with(')')) {
        return None;
    }
    let is_name = name.chars().any(char::is_alphabetic) && !name.chars().any(char::is_lowercase);
    is_name.then(|| Cue {
        name: name.to_owned(),
        certain: extension.is_some(),
    })
}

/// An upper-case transition: `CUT TO:`, `FADE IN:`, `FADE OUT.`, `FADE TO BLACK.`.
pub(super) fn is_transition(line: &str) -> bool {
    let upper = !line.chars().any(char::is_lowercase);
    upper && (line.ends_with("TO:") || matches!(line, "FADE IN:" | "FADE OUT." | "FADE TO BLACK."))
}

/// Sections `#`, synopses `=` and page breaks `===`: dropped, and separators.
pub(super) fn is_ignored(line: &str) -> bool {
    line.starts_with('#') || line.starts_with('=')
}
