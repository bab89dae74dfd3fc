//! Display names: of people, organizations, roles and invitees — what the
//! top bar, member lists and emails show. A name may hold any script, but
//! nothing that hides or reorders what a reader sees: control characters,
//! bidirectional overrides, line separators and zero-width spaces are
//! refused, so "Eve\u{202E}nimda" can't read as "Eve admin" in a list.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Long enough for any real name, short enough to fit a table cell.
const MAX_CHARS: usize = 100;

/// A trimmed, non-empty display name without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

/// Why a name was refused, worded for the person typing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but whitespace.
    #[error("Enter a name.")]
    Empty,
    /// Over the length limit.
    #[error("Use at most 100 characters.")]
    TooLong,
    /// Contains line breaks, control characters or invisible formatting.
    #[error(
        "A name can't contain line breaks, control characters or invisible formatting characters."
    )]
    ControlCharacters,
}

impl PersonName {
    /// Validates untrusted input.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() || is_deceptive_format(c))
        {
            return Err(NameError::ControlCharacters);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that change how text around them reads without showing
/// themselves: bidirectional embeddings, overrides, isolates and marks,
/// line and paragraph separators, zero-width spaces and the BOM. Zero-width
/// (non-)joiners stay allowed: scripts and emoji need them.
fn is_deceptive_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Unicode's default-ignorable characters: drawn as nothing, so two names
/// that differ only by them look the same.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// What a name looks like to a reader, for telling whether two names can
/// be told apart: NFKC-normalised, invisible characters removed, case
/// folded, and mapped to the UTS #39 confusable skeleton, so "Owner",
/// "OWNER", "Owner\u{200B}", "ｏｗｎｅｒ" and "Οwner" (a Greek capital
/// Omicron) all read the same.
pub fn reading_of(name: &str) -> String {
    let folded: String = name
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let skeleton: String = unicode_security::skeleton(folded.trim()).collect();
    skeleton.chars().flat_map(char::to_lowercase).collect()
}

/// Whether two names read the same (see [`reading_of`]).
pub fn read_alike(a: &str, b: &str) -> bool {
    reading_of(a) == reading_of(b)
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(
            PersonName::parse("  Zoë Ång ").map(|n| n.0),
            Ok("Zoë Ång".into())
        );
        assert_eq!(PersonName::parse(" "), Err(NameError::Empty));
        assert_eq!(PersonName::parse(&"x".repeat(101)), Err(NameError::TooLong));
        assert_eq!(PersonName::parse("a\nb"), Err(NameError::ControlCharacters));
        for deceptive in [
            "Eve\u{202E}nimda",
            "a\u{2028}b",
            "Ad\u{200B}min",
            "x\u{2066}y",
        ] {
            assert_eq!(
                PersonName::parse(deceptive),
                Err(NameError::ControlCharacters),
                "{deceptive:?}"
            );
        }
        assert!(PersonName::parse("👩\u{200D}💻 Dev").is_ok());
    }

    #[test]
    fn names_that_read_alike_are_found() {
        for alike in [
            "Owner",
            "OWNER",
            " owner ",
            "Owner\u{200B}",
            "Οwner",
            "ｏｗｎｅｒ",
            "Ow\u{00AD}ner",
        ] {
            assert!(read_alike(alike, "Owner"), "{alike:?}");
        }
        assert!(!read_alike("Owners", "Owner"));
        assert!(!read_alike("Billing", "Admin"));
    }
}
