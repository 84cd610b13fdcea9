//! Normalising digits typed on phones and keyboards: Arabic-Indic and Persian digits become ASCII,
//! so a ticket number or phone number typed in Arabic is understood.

/// Returns `input` with Arabic-Indic (U+0660..) and Extended Arabic-Indic (U+06F0..) digits replaced
/// by ASCII digits; every other character is kept.
pub fn to_ascii_digits(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_indic_and_persian_digits_become_ascii() {
        assert_eq!(to_ascii_digits("٠٥٥١٢٣"), "055123");
        assert_eq!(to_ascii_digits("۰۹ ab"), "09 ab");
        assert_eq!(to_ascii_digits("123"), "123");
    }
}
