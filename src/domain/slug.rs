//! Organization slugs: the `acme-corp` in `/o/acme-corp/…`. Lowercase ASCII
//! letters, digits and single hyphens, 3–40 characters, not a word the URL
//! space needs for itself.

use std::fmt;

/// Shortest slug.
pub const MIN_LEN: usize = 3;
/// Longest slug.
pub const MAX_LEN: usize = 40;

/// Words that would shadow a route or mislead in a URL.
const RESERVED: &[&str] = &[
    "new",
    "settings",
    "api",
    "admin",
    "account",
    "accounts",
    "login",
    "logout",
    "signup",
    "static",
    "assets",
    "organizations",
    "organization",
    "orgs",
    "o",
    "personal",
    "me",
    "root",
    "system",
    "tenantry",
    "billing",
    "audit",
    "invitations",
    "healthz",
    "readyz",
    "metrics",
    "help",
    "support",
    "www",
    "null",
    "undefined",
];

/// A valid, unreserved slug.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

/// Why a slug was refused, worded for the person typing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// Under the minimum length.
    #[error("Use at least 3 characters.")]
    TooShort,
    /// Over the maximum length.
    #[error("Use at most 40 characters.")]
    TooLong,
    /// Characters outside `a-z 0-9 -`, or hyphens at the ends or doubled.
    #[error(
        "Use lowercase letters, digits and single hyphens, starting and ending with a letter or digit."
    )]
    InvalidCharacters,
    /// A reserved word.
    #[error("This slug is reserved; choose another.")]
    Reserved,
}

impl Slug {
    /// Validates a slug typed by a user (not lowercased for them: what they
    /// typed is what they get, or an error saying why not).
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        let slug = input.trim();
        if slug.len() < MIN_LEN {
            return Err(SlugError::TooShort);
        }
        if slug.len() > MAX_LEN {
            return Err(SlugError::TooLong);
        }
        let allowed = slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !allowed || slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
            return Err(SlugError::InvalidCharacters);
        }
        if RESERVED.contains(&slug) {
            return Err(SlugError::Reserved);
        }
        Ok(Self(slug.to_owned()))
    }

    /// A slug derived from a name ("Acme Corp" → `acme-corp`): accents
    /// folded where simple, everything else becomes a hyphen. Names with too
    /// little to work with get an `org-` prefix; reserved words a suffix.
    pub fn from_name(name: &str) -> Self {
        let mut slug = String::with_capacity(name.len());
        for c in name.chars().flat_map(fold_accent) {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let mut slug = slug.trim_end_matches('-').to_owned();
        slug.truncate(MAX_LEN - 4);
        let slug = slug.trim_end_matches('-').to_owned();
        let slug = if slug.len() < MIN_LEN {
            format!("org-{}", if slug.is_empty() { "new".into() } else { slug })
        } else {
            slug
        };
        match Self::parse(&slug) {
            Ok(valid) => valid,
            Err(_) => Self(format!("{slug}-org")),
        }
    }

    /// The same slug with a numeric suffix, for when the plain one is taken.
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let mut base = self.0.clone();
        base.truncate(MAX_LEN - suffix.len());
        Self(format!("{}{suffix}", base.trim_end_matches('-')))
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn fold_accent(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        '&' => "and",
        _ => "",
    };
    let keep = folded.is_empty().then_some(c);
    folded.chars().chain(keep)
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_from_names() {
        assert_eq!(Slug::from_name("Acme Corp").as_str(), "acme-corp");
        assert_eq!(
            Slug::from_name("  Zoë's Café & Bar!! ").as_str(),
            "zoe-s-cafe-and-bar"
        );
        assert_eq!(Slug::from_name("AI").as_str(), "org-ai");
        assert_eq!(Slug::from_name("東京").as_str(), "org-new");
        assert_eq!(Slug::from_name("Settings").as_str(), "settings-org");
        let long = Slug::from_name(&"very long name ".repeat(10));
        assert!(
            long.as_str().len() <= MAX_LEN && !long.as_str().ends_with('-'),
            "{long}"
        );
    }

    #[test]
    fn validation_rules() {
        assert!(Slug::parse("acme-corp").is_ok());
        assert!(Slug::parse("a1b").is_ok());
        assert_eq!(Slug::parse("ab"), Err(SlugError::TooShort));
        assert_eq!(Slug::parse(&"a".repeat(41)), Err(SlugError::TooLong));
        for bad in [
            "Acme",
            "acme_corp",
            "-acme",
            "acme-",
            "ac--me",
            "acmé",
            "ac me",
        ] {
            assert_eq!(Slug::parse(bad), Err(SlugError::InvalidCharacters), "{bad}");
        }
        for reserved in ["new", "settings", "api"] {
            assert_eq!(Slug::parse(reserved), Err(SlugError::Reserved));
        }
    }

    #[test]
    fn suffixes_stay_within_the_limit() {
        let slug = Slug::parse(&"a".repeat(40)).expect("valid");
        let suffixed = slug.with_suffix(12);
        assert_eq!(suffixed.as_str().len(), 40);
        assert!(suffixed.as_str().ends_with("-12"));
        assert!(Slug::parse(suffixed.as_str()).is_ok());
    }
}
