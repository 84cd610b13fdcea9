//! SMS length arithmetic: which encoding a text needs, how many segments it costs, and fitting a
//! message into a segment budget by shortening only its free-text part.
//!
//! GSM 03.38: the basic character set costs one septet a character, the extension table
//! (`^{}\[~]|€` and form feed) two; one message carries 160 septets, a concatenated one 153 a
//! segment. Any other character (Arabic, emoji, most accented letters) forces UCS-2: 70 UTF-16
//! units, 67 a segment when concatenated, characters outside the Basic Multilingual Plane counting
//! two. Like real gateways, segments are filled without splitting an escape sequence or a
//! surrogate pair.

/// How a text travels over SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The GSM 7-bit default alphabet with its extension table.
    Gsm7,
    /// UTF-16 (UCS-2 as the gateways call it).
    Ucs2,
}

/// The cost of a text: its encoding, its length in that encoding and the number of SMS segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: u32,
    /// How many SMS the text is sent as; an empty text still costs one.
    pub count: u32,
}

/// The GSM 03.38 basic character set (one septet each), without the escape character itself.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM 03.38 extension table (an escape septet plus one: two septets each).
const GSM_EXTENSION: &str = "\u{000C}^{}\\[~]|€";

/// The septets a character costs in GSM-7, or `None` if it is not in the alphabet.
fn gsm_septets(c: char) -> Option<u32> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Counts the encoding, units and segments of an SMS text.
pub fn segments(text: &str) -> Segments {
    let gsm: Option<Vec<u32>> = text.chars().map(gsm_septets).collect();
    let (encoding, costs, single, per_segment) = match gsm {
        Some(costs) => (Encoding::Gsm7, costs, 160, 153),
        None => (Encoding::Ucs2, text.chars().map(|c| c.len_utf16() as u32).collect(), 70, 67),
    };
    let units: u32 = costs.iter().sum();
    let count = if units <= single { 1 } else { pack(&costs, per_segment) };
    Segments { encoding, units, count }
}

/// The segments needed when no character's units may be split between two segments.
fn pack(costs: &[u32], per_segment: u32) -> u32 {
    let mut count = 1;
    let mut used = 0;
    for &cost in costs {
        if used + cost > per_segment {
            count += 1;
            used = 0;
        }
        used += cost;
    }
    count
}

/// `head + note + tail`, with the note shortened (on a character boundary, ending in an ellipsis)
/// until the whole fits `max_segments`; if not even one character of the note fits, the note is
/// dropped. The head and tail are never cut: when they alone exceed the budget they are returned
/// as they are.
///
/// The ellipsis is "…" when the text is UCS-2 anyway and "..." when it would otherwise stay in
/// GSM-7, since "…" alone would switch the message to UCS-2 and cost more than half its room.
pub fn fit(head: &str, note: &str, tail: &str, max_segments: u32) -> String {
    let whole = format!("{head}{note}{tail}");
    let max_segments = max_segments.max(1);
    if segments(&whole).count <= max_segments {
        return whole;
    }
    let ellipsis = if segments(&whole).encoding == Encoding::Gsm7 { "..." } else { "…" };
    let boundaries: Vec<usize> = note.char_indices().map(|(index, _)| index).skip(1).collect();
    let fits = |end: usize| {
        let shortened = shorten(note, end, ellipsis);
        !shortened.is_empty() && segments(&format!("{head}{shortened}{tail}")).count <= max_segments
    };
    // Longer prefixes never cost fewer segments, so the longest one that fits is found by bisection.
    let (mut low, mut high) = (0, boundaries.len());
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(boundaries[middle - 1]) { low = middle } else { high = middle - 1 }
    }
    if low == 0 {
        return format!("{head}{tail}");
    }
    format!("{head}{}{tail}", shorten(note, boundaries[low - 1], ellipsis))
}

/// The note cut at byte `end` (a character boundary), trailing spaces removed, then the ellipsis;
/// empty when nothing but spaces is left.
fn shorten(note: &str, end: usize, ellipsis: &str) -> String {
    let kept = note[..end].trim_end();
    if kept.trim_start().is_empty() { String::new() } else { format!("{kept}{ellipsis}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_segments() {
        fn check(text: &str, encoding: Encoding, units: u32, count: u32) {
            assert_eq!(segments(text), Segments { encoding, units, count }, "{:?}…", text.chars().take(20).collect::<String>());
        }
        check("", Encoding::Gsm7, 0, 1);
        check(&"a".repeat(160), Encoding::Gsm7, 160, 1);
        check(&"a".repeat(161), Encoding::Gsm7, 161, 2);
        check(&"a".repeat(306), Encoding::Gsm7, 306, 2);
        check(&"a".repeat(307), Encoding::Gsm7, 307, 3);
        check("€", Encoding::Gsm7, 2, 1);
        check("{x}", Encoding::Gsm7, 5, 1);
        check("\u{000C}", Encoding::Gsm7, 2, 1);
        check(&"€".repeat(80), Encoding::Gsm7, 160, 1);
        // 152 septets then a two-septet character: the escape sequence is not split.
        check(&format!("{}€{}", "a".repeat(152), "a".repeat(10)), Encoding::Gsm7, 164, 2);
        check(&format!("{}€{}", "a".repeat(152), "a".repeat(152)), Encoding::Gsm7, 306, 3);
        check("Ünïcode", Encoding::Ucs2, 7, 1);
        check(&"ب".repeat(70), Encoding::Ucs2, 70, 1);
        check(&"ب".repeat(71), Encoding::Ucs2, 71, 2);
        check(&"ب".repeat(134), Encoding::Ucs2, 134, 2);
        check(&"ب".repeat(135), Encoding::Ucs2, 135, 3);
        check("😀", Encoding::Ucs2, 2, 1);
        check(&"😀".repeat(35), Encoding::Ucs2, 70, 1);
        check(&"😀".repeat(36), Encoding::Ucs2, 72, 2);
        // 66 units then an emoji: the surrogate pair moves whole to the next segment.
        check(&format!("{}😀{}", "ب".repeat(66), "ب".repeat(10)), Encoding::Ucs2, 78, 2);
        check("a\u{2068}", Encoding::Ucs2, 2, 1);
    }

    #[test]
    fn fits_the_note_into_the_budget() {
        fn check(head: &str, note: &str, tail: &str, max: u32, expected: &str) {
            let fitted = fit(head, note, tail, max);
            assert_eq!(fitted, expected);
            assert!(segments(&fitted).count <= max || fitted == format!("{head}{tail}"));
        }
        check("Head. ", "short note.", " Tail.", 1, "Head. short note. Tail.");
        let long = "word ".repeat(60);
        let fitted = fit("Head. ", &long, " Tail.", 1);
        assert_eq!(segments(&fitted).count, 1);
        assert_eq!(segments(&fitted).encoding, Encoding::Gsm7);
        assert!(fitted.starts_with("Head. word word"));
        assert!(fitted.ends_with("word... Tail."), "{fitted}");
        assert!(segments(&fitted).units >= 155, "the note keeps as much as fits: {fitted}");
        // The head and tail alone already fill the budget: the note is dropped, nothing is cut.
        let head = "h".repeat(100);
        let tail = "t".repeat(60);
        check(&head, "note", &tail, 1, &format!("{head}{tail}"));
        let tail = "t".repeat(200);
        check(&head, "note", &tail, 1, &format!("{head}{tail}"));
        // Arabic: UCS-2, the ellipsis is "…" and the cut is on a character boundary.
        let arabic = fit("بلاغكم رقم 10000047. ", &"ملاحظة طويلة ".repeat(30), " شكرًا.", 2);
        assert!(segments(&arabic).count <= 2);
        assert!(arabic.contains('…'));
        assert!(arabic.ends_with(" شكرًا."));
        // A note made of emoji is never cut inside a surrogate pair (char boundaries only).
        let emoji = fit("", &"😀".repeat(100), "", 1);
        assert_eq!(emoji, format!("{}…", "😀".repeat(34)));
        check("a", "", "b", 0, "ab");
    }

    #[test]
    fn fit_uses_the_whole_budget() {
        let fitted = fit(&"h".repeat(50), &"n".repeat(500), &"t".repeat(50), 3);
        assert_eq!(segments(&fitted).units, 459);
        assert_eq!(segments(&fitted).count, 3);
    }
}
