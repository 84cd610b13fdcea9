//! The language of names and descriptions in Open311 answers: the `locale` parameter (`ar`, `en`,
//! `en_US`), else the first Arabic or English tag of `Accept-Language`, else Arabic. The catalogue
//! carries both languages; the few sentences this adapter writes itself are kept here, side by side.

use super::params::Params;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use balagh_domain::vocabulary::Status;

/// The languages the catalogue is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    /// The text for this language out of a pair.
    pub fn pick<'a>(self, arabic: &'a str, english: &'a str) -> &'a str {
        match self {
            Lang::Ar => arabic,
            Lang::En => english,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    /// `ar`, `ar-SA`, `en_US`, `EN` and the like; `None` for any other language.
    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "ar" => Some(Lang::Ar),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// Chooses the answer's language; `explicit` is true when the client named one (the report then
/// records it as the beneficiary's language).
pub fn negotiate(params: &Params, headers: &HeaderMap) -> (Lang, bool) {
    if let Some(lang) = params.get("locale").and_then(Lang::from_tag) {
        return (lang, true);
    }
    match headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(from_accept_language) {
        Some(lang) => (lang, true),
        None => (Lang::Ar, false),
    }
}

/// The most preferred Arabic or English tag of an `Accept-Language` value, by quality.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut ranges: Vec<(f32, Lang)> = header
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let lang = Lang::from_tag(parts.next()?)?;
            let quality = parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).unwrap_or(1.0);
            (quality > 0.0).then_some((quality, lang))
        })
        .collect();
    // A stable sort keeps the header's order among equal qualities.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.first().map(|(_, lang)| *lang)
}

/// A status's name for people.
pub fn status_name(status: Status, lang: Lang) -> &'static str {
    let (arabic, english) = match status {
        Status::New => ("جديد", "new"),
        Status::Acknowledged => ("تم الاستلام", "acknowledged"),
        Status::Assigned => ("أُحيل إلى الجهة المختصة", "assigned"),
        Status::InProgress => ("قيد التنفيذ", "in progress"),
        Status::OnHold => ("معلّق", "on hold"),
        Status::AwaitingCitizen => ("بانتظار رد المستفيد", "awaiting the citizen's reply"),
        Status::Resolved => ("تمت المعالجة", "resolved"),
        Status::Closed => ("مغلق", "closed"),
        Status::Reopened => ("أعيد فتحه", "reopened"),
        Status::Rejected => ("مرفوض", "rejected"),
        Status::Duplicate => ("مكرر", "duplicate"),
    };
    lang.pick(arabic, english)
}

/// The text of an update that carries no note of its own.
pub fn status_changed(status: Status, lang: Lang) -> String {
    match lang {
        Lang::Ar => format!("تغيرت حالة البلاغ إلى: {}", status_name(status, lang)),
        Lang::En => format!("The report's status changed to: {}", status_name(status, lang)),
    }
}

/// The `service_notice` answered to a new request, in both languages (Arabic first) whatever the
/// request's language, because the client may show it to someone who reads only one of them.
pub fn received_notice(ticket: &str) -> String {
    format!(
        "تم استلام بلاغك برقم {ticket}، احتفظ بهذا الرقم لمتابعة البلاغ عبر 940. \
         Your report was received with number {ticket}; keep this number to follow it up through 940."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(locale: Option<&str>, accept_language: Option<&str>, expected: (Lang, bool)) {
        let params = Params::from_pairs(locale.map(|l| vec![("locale".to_owned(), l.to_owned())]).unwrap_or_default());
        let mut headers = HeaderMap::new();
        if let Some(value) = accept_language {
            headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
        }
        assert_eq!(negotiate(&params, &headers), expected, "locale {locale:?}, Accept-Language {accept_language:?}");
    }

    #[test]
    fn the_locale_parameter_then_accept_language_then_arabic_decide() {
        check(None, None, (Lang::Ar, false));
        check(Some("en"), None, (Lang::En, true));
        check(Some("en_US"), Some("ar"), (Lang::En, true));
        check(Some("ar-SA"), Some("en"), (Lang::Ar, true));
        check(Some(""), Some("en-GB,en;q=0.9"), (Lang::En, true));
        check(Some("fr"), None, (Lang::Ar, false));
        check(None, Some("fr-FR, en;q=0.5, ar;q=0.8"), (Lang::Ar, true));
        check(None, Some("fr-FR, ar;q=0, en;q=0.1"), (Lang::En, true));
        check(None, Some("ur, hi"), (Lang::Ar, false));
    }

    #[test]
    fn the_received_notice_names_the_ticket_in_both_languages() {
        let notice = received_notice("00000018");
        assert_eq!(notice.matches("00000018").count(), 2);
        assert!(notice.starts_with("تم استلام"));
        assert!(notice.contains("Your report was received"));
    }
}
