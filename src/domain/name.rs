//! Display names of people: what the top bar, member lists and emails show.

use std::fmt;

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
    /// Contains line breaks or other control characters.
    #[error("A name can't contain line breaks or control characters.")]
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
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
    }
}
