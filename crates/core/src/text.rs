//! Small pieces of the installer's words shared by every layer (no dependencies of its own).

/// "1 site", "2 sites", "0 sites": a count with its noun, plural where English wants one.
/// Nouns that do not take a plain "s" are given in both forms by the caller.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(plural(1, "hour"), "1 hour");
        assert_eq!(plural(0, "hour"), "0 hours");
        assert_eq!(plural(15, "second"), "15 seconds");
    }
}
