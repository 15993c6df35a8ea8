//! Stable ids from names.

/// A stable id from a name: lower case (Unicode-aware: `Zoë` is `zoë`), each run of characters
/// that are not letters or digits turned into one `-`, none at either end; `unnamed` when
/// nothing is left.
///
/// ```
/// use showrunner_story::slug;
/// assert_eq!(slug("Mrs. Dale"), "mrs-dale");
/// assert_eq!(slug("  Zoë  "), "zoë");
/// assert_eq!(slug("!!"), "unnamed");
/// ```
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "unnamed".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_lower_case_runs_joined_by_dashes() {
        assert_eq!(slug("Mrs. Dale"), "mrs-dale");
        assert_eq!(slug("  Ada  "), "ada");
        assert_eq!(slug("JOSÉ-LUIS  O'NEIL"), "josé-luis-o-neil");
        assert_eq!(slug("!!"), "unnamed");
        assert_eq!(slug(""), "unnamed");
    }
}
