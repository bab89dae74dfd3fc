//! Free text people type beside names: descriptions, billing addresses,
//! what a charge was for. Line breaks and tabs are kept (as `\n`); other
//! control characters are refused, NUL above all, which PostgreSQL can't
//! store and which would otherwise reach the database as a server error.

/// Why typed text can't be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreeTextError {
    /// More characters than the field holds.
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    /// A control character other than a line break or a tab.
    #[error("Remove the control characters (such as NUL) from this text.")]
    ControlCharacter,
}

/// `typed`, trimmed and with Windows line breaks made `\n`, if it holds at
/// most `max_chars` characters and no control character but line breaks
/// and tabs.
pub fn free_text(typed: &str, max_chars: usize) -> Result<String, FreeTextError> {
    let text = typed.trim().replace("\r\n", "\n");
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FreeTextError::ControlCharacter);
    }
    if text.chars().count() > max_chars {
        return Err(FreeTextError::TooLong(max_chars));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_refuses_control_characters() {
        assert_eq!(free_text("  a\r\nb\tc ", 10), Ok("a\nb\tc".to_owned()));
        assert_eq!(
            free_text("a\u{0}b", 10),
            Err(FreeTextError::ControlCharacter)
        );
        assert_eq!(
            free_text("a\u{1b}[31m", 10),
            Err(FreeTextError::ControlCharacter)
        );
        assert_eq!(free_text("ééé", 2), Err(FreeTextError::TooLong(2)));
        assert_eq!(free_text("", 2), Ok(String::new()));
    }
}
