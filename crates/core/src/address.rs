//! Whether a site's address (as its vendor gives it) is the customer's: a key, an installer
//! account or a sign-in may reach sites of other households, and the installer attaches only
//! the customer's. Vendors give partial addresses ("Fresno, CA, 93701"; a street without a
//! town), so the comparison is by what both sides say: the ZIP or postal code when both have
//! one, else the town, else the street with its number.

/// `Some(true)`: the same place; `Some(false)`: another place; `None`: one side says too little.
pub fn same_place(customer: Option<&str>, site: Option<&str>) -> Option<bool> {
    let (c, s) = (parts(customer?), parts(site?));
    if c.words.is_empty() || s.words.is_empty() {
        return None;
    }
    if let (Some(a), Some(b)) = (&c.postal, &s.postal) {
        return Some(a == b);
    }
    // A town named on both sides: any word of one side's place names in the other's.
    if let (Some(a), Some(b)) = (&c.town, &s.town) {
        return Some(a == b);
    }
    if let (Some(a), Some(b)) = (&c.street, &s.street) {
        return Some(a == b);
    }
    None
}

struct Parts {
    words: Vec<String>,
    postal: Option<String>,
    town: Option<String>,
    street: Option<String>,
}

/// Splits "1234 Main St, Fresno, CA 93701" into its comma-separated parts: a part with a number
/// first is the street, the five-digit group the ZIP code, the part before the
/// state or code the town.
fn parts(address: &str) -> Parts {
    let norm = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    let words = norm(address);
    let pieces: Vec<Vec<String>> = address
        .split(',')
        .map(norm)
        .filter(|p| !p.is_empty())
        .collect();
    // A five-digit ZIP (its +4 part aside), else another all-digit postal code.
    let digits = |w: &&String, n: usize| w.len() == n && w.chars().all(|c| c.is_ascii_digit());
    let postal = words
        .iter()
        .rev()
        .find(|w| digits(w, 5))
        .or_else(|| {
            words
                .iter()
                .rev()
                .find(|w| w.len() >= 4 && digits(w, w.len()))
        })
        .cloned();
    let street = pieces
        .iter()
        .find(|p| {
            p.first()
                .is_some_and(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                && p.len() > 1
        })
        .map(|p| p.join(" "));
    // The town: the first part that is not the street and not only a state and a code.
    let town = pieces
        .iter()
        .filter(|p| Some(p.join(" ")) != street)
        .map(|p| {
            p.iter()
                .filter(|w| !w.chars().all(|c| c.is_ascii_digit()) && w.len() > 2)
                .cloned()
                .collect::<Vec<_>>()
        })
        .find(|p| !p.is_empty())
        .map(|p| p.join(" "));
    Parts {
        words,
        postal,
        town,
        street,
    }
}

#[cfg(test)]
mod tests {
    use super::same_place;

    #[test]
    fn compares_what_both_sides_say() {
        let home = Some("1234 Main St, Fresno, CA 93701");
        assert_eq!(same_place(home, Some("Fresno, CA, 93701")), Some(true));
        assert_eq!(
            same_place(home, Some("San Antonio, TX, 78205")),
            Some(false)
        );
        assert_eq!(same_place(home, Some("Phoenix, AZ 85004")), Some(false));
        // No code on one side: the town decides.
        assert_eq!(same_place(home, Some("Fresno")), Some(true));
        assert_eq!(same_place(home, Some("Phoenix")), Some(false));
        assert_eq!(
            same_place(Some("Fresno, CA"), Some("9 Elm Rd, Fresno, CA")),
            Some(true)
        );
        // Too little to tell.
        assert_eq!(same_place(None, Some("Fresno, CA, 93701")), None);
        assert_eq!(same_place(home, None), None);
        assert_eq!(same_place(home, Some("  ")), None);
        // A house number is not a ZIP.
        assert_eq!(
            same_place(Some("12345 Oak Ave, Phoenix"), Some("Phoenix, AZ")),
            Some(true)
        );
        // A ZIP+4 is the same ZIP.
        assert_eq!(same_place(home, Some("Fresno, CA 93701-2204")), Some(true));
    }
}
