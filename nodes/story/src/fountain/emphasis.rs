//! Fountain's emphasis is markup, not words: `*italic*`, `**bold**`, `***bold italic***` and
//! `_underline_` lose their markers; `\*` and `\_` are a literal `*` and `_`. A marker counts only
//! as a pair on one text, opening before a word and closing after one, so `2 * 3` and
//! `snake_case` stay as they are.

/// `text` without its emphasis markers.
pub(super) fn plain(text: &str) -> String {
    // Escaped markers stand aside while the pairs are found.
    const STAR: char = '\u{E000}';
    const UNDERSCORE: char = '\u{E001}';
    let mut chars: Vec<char> = text
        .replace("\\*", "\u{E000}")
        .replace("\\_", "\u{E001}")
        .chars()
        .collect();
    for marker in ['*', '_'] {
        strip_pairs(&mut chars, marker);
    }
    chars
        .into_iter()
        .map(|c| match c {
            STAR => '*',
            UNDERSCORE => '_',
            c => c,
        })
        .collect()
}

/// Removes every pair of `marker` runs of the same length (at most three) that opens before a
/// word and closes after one.
fn strip_pairs(chars: &mut Vec<char>, marker: char) {
    let mut at = 0;
    while at < chars.len() {
        let run = run_at(chars, at, marker);
        if run == 0 || run > 3 || !opens(chars, at, run) {
            at += run.max(1);
            continue;
        }
        match closing(chars, at + run, marker, run) {
            Some(close) => {
                chars.drain(close..close + run);
                chars.drain(at..at + run);
            }
            None => at += run,
        }
    }
}

/// How many `marker`s run from `at`.
fn run_at(chars: &[char], at: usize, marker: char) -> usize {
    chars[at..].iter().take_while(|&&c| c == marker).count()
}

/// A run at `at` opens emphasis: after the start, a space or punctuation, and before a word.
fn opens(chars: &[char], at: usize, run: usize) -> bool {
    let before = at.checked_sub(1).map(|i| chars[i]);
    let after = chars.get(at + run);
    before.is_none_or(|c| !c.is_alphanumeric()) && after.is_some_and(|c| !c.is_whitespace())
}

/// The closing run of `run` markers from `from` on: after a word, and before the end, a space or
/// punctuation.
fn closing(chars: &[char], from: usize, marker: char, run: usize) -> Option<usize> {
    let mut at = from;
    while at < chars.len() {
        let len = run_at(chars, at, marker);
        if len == 0 {
            at += 1;
            continue;
        }
        let before = chars[at - 1];
        let after = chars.get(at + len);
        if len == run && !before.is_whitespace() && after.is_none_or(|c| !c.is_alphanumeric()) {
            return Some(at);
        }
        at += len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn emphasis_is_markup_and_escapes_are_literal() {
        assert_eq!(
            plain("*Did you know Brick and Steel are retired?*"),
            "Did you know Brick and Steel are retired?"
        );
        assert_eq!(plain("**bold**, _under_ and ***both***."), "bold, under and both.");
        assert_eq!(plain("a *mixed **bold** word*"), "a mixed bold word");
        assert_eq!(plain("2 * 3 = 6 and snake_case_name"), "2 * 3 = 6 and snake_case_name");
        assert_eq!(plain("a \\*literal\\* star, a \\_ mark"), "a *literal* star, a _ mark");
        assert_eq!(plain("an *unclosed marker"), "an *unclosed marker");
    }
}
