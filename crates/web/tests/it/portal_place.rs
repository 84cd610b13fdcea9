//! The page where a caller marks the place of his report from the link he was sent by text
//! message, over plain HTTP as a browser without JavaScript uses it: in both languages, nothing
//! personal shown, the coordinates typed, every refusal (CSRF, coordinates that cannot be used, a
//! link used, run out or unknown) answered with its own page and status, and the token kept out
//! of caches and referrers. (The same with the map, in a real browser, is in `portal_browser`.)

use balagh_app::OutboxFilter;
use balagh_domain::event::{Actor, EventKind};
use balagh_domain::report::{Report, ReportDraft};
use balagh_domain::vocabulary::{Channel, Status};
use balagh_test_support::{TestApp, spawn_app_for_portal, test_portal};
use reqwest::redirect::Policy;
use std::collections::BTreeMap;

const PHONE: &str = "0512345678";
const NAME: &str = "سالم الدوسري";
const DESCRIPTION: &str = "حفرة كبيرة بعد الإشارة الثانية";

/// A report a caller opened by phone without naming its place, in `language`, and the path of
/// the link he was sent (`/{lang}/place/{token}`), read from the queued text message.
pub(crate) async fn report_awaiting_place(app: &TestApp, language: &str, call_sid: &str) -> (Report, String) {
    let draft = ReportDraft {
        service_code: Some("pothole".into()),
        description: Some(DESCRIPTION.into()),
        name: Some(NAME.into()),
        phone: Some(PHONE.into()),
        language: Some(language.into()),
        attributes: BTreeMap::from([("pothole_size".to_owned(), vec!["large".to_owned()])]),
        ..ReportDraft::default()
    };
    let opened = app.app.open_report_by_call_awaiting_place(&draft, call_sid).await.expect("the report is opened");
    assert_eq!(opened.report.status, Status::AwaitingCitizen);
    let outbox = app.app.store.db.outbox_rows(&OutboxFilter { report: Some(opened.report.id), limit: 100, ..OutboxFilter::default() }).await.unwrap();
    let row = outbox.iter().find(|row| row.topic == "place_requested").expect("the text message with the link is queued");
    let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap();
    let url = payload["place_url"].as_str().expect("the message carries the link");
    let path = url.strip_prefix(&app.address).expect("the link is on Balagh's public address").to_owned();
    assert!(path.starts_with(&format!("/{language}/place/")), "{path}");
    (opened.report, path)
}

/// A visitor without JavaScript: keeps the portal's cookies by hand, never follows redirects.
struct Visitor<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: String,
}

/// What a page answered.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_default()
    }
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, client: reqwest::Client::builder().redirect(Policy::none()).build().unwrap(), cookies: String::new() }
    }

    async fn answer(&mut self, response: reqwest::Response) -> Answer {
        crate::portal::keep_cookies(&mut self.cookies, &response);
        Answer { status: response.status().as_u16(), headers: response.headers().clone(), html: response.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let response = self.client.get(self.app.url(path)).header("cookie", &self.cookies).send().await.unwrap();
        self.answer(response).await
    }

    /// The CSRF token the last page set (the cookie's value).
    fn csrf(&self) -> String {
        self.cookies.split("; ").find_map(|c| c.strip_prefix("balagh_csrf=")).expect("a CSRF cookie").to_owned()
    }

    async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let request = self.client.post(self.app.url(path)).header("cookie", &self.cookies).header("content-type", "application/x-www-form-urlencoded");
        let response = request.body(body).send().await.unwrap();
        self.answer(response).await
    }

    /// Sends the place form with these coordinates and this visitor's CSRF token.
    async fn mark(&mut self, path: &str, lat: &str, lon: &str) -> Answer {
        let csrf = self.csrf();
        self.post(path, &[("csrf", &csrf), ("lat", lat), ("lon", lon)]).await
    }
}

async fn stored(app: &TestApp, report: &Report) -> Report {
    app.app.report(report.ticket()).await.unwrap()
}

/// The token's pages are kept by no cache and name no referrer.
fn assert_secret(answer: &Answer, what: &str) {
    assert_eq!(answer.header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(answer.header("cache-control"), "no-store", "{what}");
}

#[tokio::test]
async fn the_link_opens_the_map_in_the_caller_s_language_with_the_ticket_and_nothing_personal() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    for (lang, dir, title, service) in [("ar", "rtl", "حدّد موقع بلاغك", "حفرة في الطريق"), ("en", "ltr", "Mark the place of your report", "Pothole in the road")]
    {
        let (report, path) = report_awaiting_place(&app, lang, &format!("CA-page-{lang}")).await;
        let page = visitor.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert_secret(&page, &path);
        let html = &page.html;
        assert!(html.contains(&format!("<html lang=\"{lang}\" dir=\"{dir}\">")), "{lang}");
        assert!(html.contains(title) && html.contains(service), "{lang}: the title and the service's name");
        assert!(html.contains(&format!(">{}</span>", report.ticket())), "{lang}: the ticket");
        assert!(html.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
        assert!(!html.contains("portal-"), "{lang}: a Fluent key instead of its text");
        // The map, and without JavaScript two inputs for the coordinates, in a form posted back here.
        assert!(html.contains("id=\"map\"") && html.contains("data-map-fallback"), "{lang}");
        assert!(html.contains("type=\"text\" id=\"lat\" name=\"lat\"") && html.contains("type=\"text\" id=\"lon\" name=\"lon\""), "{lang}");
        assert!(html.contains(&format!("action=\"{path}\"")) && html.contains("id=\"locate\""), "{lang}");
        for personal in ["512345678", "+966", NAME, DESCRIPTION] {
            assert!(!html.contains(personal), "{lang}: the page shows {personal}");
        }
        let until = html.split("id=\"place-until\">").nth(1).and_then(|rest| rest.split('<').next()).expect("the deadline");
        if lang == "ar" {
            // 24 hours after Sunday 1 March 2026 10:00 in Riyadh, with the Hijri date.
            assert!(until.contains("١٠:٠٠") && until.contains("٢ مارس ٢٠٢٦") && until.contains("هـ"), "{until}");
        } else {
            assert!(until.contains("10:00") && until.contains("2 March 2026"), "{until}");
        }
    }
}

#[tokio::test]
async fn a_pin_puts_the_report_back_to_new_with_its_place_and_a_second_one_is_refused() {
    let app = spawn_app_for_portal(test_portal()).await;
    let (report, path) = report_awaiting_place(&app, "ar", "CA-pin").await;
    let mut visitor = Visitor::new(&app);
    visitor.get(&path).await;

    // Arabic-Indic digits and decimal separator, as an Arabic keyboard types them.
    let done = visitor.mark(&path, "٢٦٫٤٣١", "50.101").await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert_secret(&done, "the confirmation");
    assert!(done.html.contains("تم تسجيل الموقع") && done.html.contains(&format!("سُجّل موقع البلاغ {}", report.ticket())), "{}", done.html);
    assert!(done.html.contains(&format!("href=\"/ar/track?ticket={}\"", report.ticket())), "a link to track it");
    let timeline = app.app.timeline(report.ticket(), &Actor::system()).await.unwrap();
    let event = timeline.iter().map(|entry| &entry.event).find(|event| event.kind.name() == "location_placed").expect("the pin is on the timeline");
    assert_eq!((&event.kind, event.public, event.channel), (&EventKind::LocationPlaced { lat: 26.431, lon: 50.101 }, true, Channel::Web));
    let placed = stored(&app, &report).await;
    assert_eq!(placed.status, Status::New, "the report goes on");
    let pin = placed.location.coordinates.expect("the report carries its place");
    assert_eq!((pin.lat(), pin.lon()), (26.431, 50.101));

    let again = visitor.mark(&path, "26.5", "50.2").await;
    assert_eq!(again.status, 409);
    assert_secret(&again, "the second pin");
    assert!(again.html.contains("سبق تسجيل الموقع") && again.html.contains("href=\"/ar/track\""), "{}", again.html);
    let page = visitor.get(&path.replace("/ar/", "/en/")).await;
    assert_eq!(page.status, 409, "the link, opened again");
    assert!(page.html.contains("The place was already recorded"));
    assert_eq!(stored(&app, &report).await.location.coordinates, Some(pin), "the first place stays");
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let app = spawn_app_for_portal(test_portal()).await;
    let (report, path) = report_awaiting_place(&app, "en", "CA-csrf").await;
    let mut visitor = Visitor::new(&app);
    visitor.get(&path).await;
    let refused = visitor.post(&path, &[("csrf", "0123456789abcdef0123456789abcdef"), ("lat", "26.4"), ("lon", "50.1")]).await;
    assert_eq!(refused.status, 403);
    assert_secret(&refused, "the refused form");
    assert!(refused.html.contains("This form has expired") && refused.html.contains("id=\"place-form\""), "asked again: {}", refused.html);
    let mut stranger = Visitor::new(&app);
    assert_eq!(stranger.post(&path, &[("csrf", ""), ("lat", "26.4"), ("lon", "50.1")]).await.status, 403, "no cookie at all");
    let unchanged = stored(&app, &report).await;
    assert_eq!((unchanged.status, unchanged.location.coordinates), (Status::AwaitingCitizen, None));
}

#[tokio::test]
async fn coordinates_that_cannot_be_used_come_back_escaped_with_each_problem_in_the_page_s_language() {
    let app = spawn_app_for_portal(test_portal()).await;
    let (report, path) = report_awaiting_place(&app, "en", "CA-bad").await;
    let mut visitor = Visitor::new(&app);
    visitor.get(&path).await;
    let check = async |visitor: &mut Visitor<'_>, path: &str, lat: &str, lon: &str, messages: &[&str]| {
        let page = visitor.mark(path, lat, lon).await;
        assert_eq!(page.status, 400, "{lat}, {lon}");
        assert_secret(&page, "the form sent back");
        assert!(page.html.contains("id=\"place-form\""), "the form again");
        for message in messages {
            assert!(page.html.contains(message), "{lat}, {lon}: no «{message}» in {}", page.html);
        }
        page.html
    };
    check(&mut visitor, &path, "95", "50.1", &["The latitude must be between minus 90 and 90", "aria-invalid=\"true\""]).await;
    check(&mut visitor, &path, "26.4", "-181", &["The longitude must be between minus 180 and 180"]).await;
    check(&mut visitor, &path, "", "", &["drop a pin on the map, or type its latitude and longitude"]).await;
    let html = check(&mut visitor, &path, "north <b>", "east", &["Enter the latitude as a number", "Enter the longitude as a number"]).await;
    assert!(html.contains("value=\"north &#60;b&#62;\"") || html.contains("value=\"north &lt;b&gt;\""), "what was typed comes back, escaped");
    assert!(!html.contains("north <b>"));
    let arabic = format!("/ar/{}", path.trim_start_matches("/en/"));
    check(&mut visitor, &arabic, "95", "50", &["يجب أن يكون خط العرض بين سالب 90 وموجب 90", "dir=\"rtl\""]).await;
    let unchanged = stored(&app, &report).await;
    assert_eq!((unchanged.status, unchanged.location.coordinates), (Status::AwaitingCitizen, None), "the report still waits");
}

#[tokio::test]
async fn a_link_past_its_time_is_gone_and_an_unknown_one_is_not_found() {
    let app = spawn_app_for_portal(test_portal()).await;
    let (report, path) = report_awaiting_place(&app, "ar", "CA-late").await;
    let mut visitor = Visitor::new(&app);
    visitor.get(&path).await;
    app.clock.advance(app.app.place_wait() + jiff::SignedDuration::from_secs(1));

    let page = visitor.get(&path).await;
    assert_eq!(page.status, 410);
    assert_secret(&page, "the run-out link");
    assert!(page.html.contains("انتهت صلاحية هذا الرابط") && page.html.contains("href=\"/ar/track\""), "{}", page.html);
    assert!(!page.html.contains("id=\"place-form\""));
    let late = visitor.mark(&path, "26.4", "50.1").await;
    assert_eq!(late.status, 410, "a pin too late");
    assert!(late.html.contains("مضى البلاغ وفق الوصف الذي قدّمته"));
    assert_eq!(stored(&app, &report).await.location.coordinates, None);

    let token = path.rsplit('/').next().unwrap();
    let unknown = format!("/en/place/{}", "A".repeat(token.len()));
    for path in [unknown.as_str(), "/en/place/not%20a%20token", "/en/place/%3Cscript%3E"] {
        let page = visitor.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert_secret(&page, path);
        assert!(page.html.contains("This page does not exist"), "the portal's own not-found page");
        assert!(!page.html.contains("<script>"));
        assert_eq!(visitor.mark(path, "26.4", "50.1").await.status, 404, "{path}");
    }
    assert_eq!(visitor.get(&format!("/xx/place/{token}")).await.status, 404, "a language we do not serve");
}

#[tokio::test]
async fn marking_places_is_rate_limited_per_address() {
    let limits = balagh_web::portal::RateLimits { tracks_per_address: 2, ..balagh_web::portal::RateLimits::default() };
    let app = spawn_app_for_portal(balagh_web::portal::PortalConfig { rate_limits: limits, ..test_portal() }).await;
    let (report, path) = report_awaiting_place(&app, "en", "CA-limit").await;
    let mut visitor = Visitor::new(&app);
    visitor.get(&path).await;
    for _ in 0..2 {
        assert_eq!(visitor.mark(&path, "95", "50").await.status, 400);
    }
    let limited = visitor.mark(&path, "26.4", "50.1").await;
    assert_eq!(limited.status, 429, "the third try from one address within the hour");
    assert!(limited.html.contains("Too many attempts") && limited.html.contains("id=\"place-form\""));
    assert_eq!(stored(&app, &report).await.location.coordinates, None);
}
