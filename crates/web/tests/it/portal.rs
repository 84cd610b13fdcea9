//! The citizen portal over plain HTTP, as a browser without JavaScript uses it: pages in both
//! languages, a report with a photo opened once, tracking by ticket and the last four digits,
//! follow-up and closure survey, the public list without personal data, CSRF and rate limits.
//! (The same flows in a real browser, with JavaScript, are in `portal_browser`.)

use balagh_app::OutboxFilter;
use balagh_app::ReportQuery;
use balagh_domain::TicketNumber;
use balagh_domain::event::{Actor, Role};
use balagh_domain::lifecycle::Command;
use balagh_domain::vocabulary::{Channel, Status};
use balagh_test_support::{PHOTO_EXIF_MARKER, PHOTO_WITH_LOCATION, TestApp, spawn_app_for_portal, test_portal};
use balagh_web::portal::{PortalConfig, RateLimits};
use reqwest::multipart::{Form, Part};
use reqwest::redirect::Policy;

const PHONE: &str = "0551234567";

/// A visitor: a client that keeps the portal's cookies by hand and never follows redirects.
struct Visitor<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: String,
}

/// Keeps the cookies `response` sets in `cookies` (a `Cookie` header's value), as a browser does.
pub(crate) fn keep_cookies(cookies: &mut String, response: &reqwest::Response) {
    for value in response.headers().get_all("set-cookie") {
        let pair = value.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        let mut kept: Vec<String> = cookies.split("; ").filter(|c| !c.is_empty() && !c.starts_with(&format!("{name}="))).map(str::to_owned).collect();
        kept.push(pair);
        *cookies = kept.join("; ");
    }
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, client: reqwest::Client::builder().redirect(Policy::none()).build().unwrap(), cookies: String::new() }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        keep_cookies(&mut self.cookies, response);
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let response = self.client.get(self.app.url(path)).header("cookie", &self.cookies).send().await.unwrap();
        self.keep_cookies(&response);
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The CSRF token the last page carried (the cookie's value).
    fn csrf(&self) -> String {
        self.cookies.split("; ").find_map(|c| c.strip_prefix("balagh_csrf=")).expect("a CSRF cookie").to_owned()
    }

    async fn post_form(&mut self, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let response = self
            .client
            .post(self.app.url(path))
            .header("cookie", &self.cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Posts a multipart form; returns the status, the Location header and the body.
    async fn post_multipart(&mut self, path: &str, form: Form) -> (u16, String, String) {
        let response = self.client.post(self.app.url(path)).header("cookie", &self.cookies).multipart(form).send().await.unwrap();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (response.status().as_u16(), location, response.text().await.unwrap())
    }
}

/// The pothole form's fields, filled in as a beneficiary would, with `extra` fields and photos.
fn pothole_form(csrf: &str, key: &str, photos: &[&'static [u8]]) -> Form {
    let mut form = Form::new()
        .text("csrf", csrf.to_owned())
        .text("idempotency_key", key.to_owned())
        .text("service_code", "pothole")
        .text("attr_pothole_size", "medium")
        .text("description", "حفرة عميقة أمام المدرسة")
        .text("lat", "26.431000")
        .text("lon", "50.101000")
        .text("city", "الدمام")
        .text("district", "الفيصلية")
        .text("address", "")
        .text("phone", PHONE)
        .text("name", "سالم")
        .text("email", "salem@example.com")
        .text("language", "ar")
        .text("preferred_channel", "sms")
        .text("consent", "yes");
    for photo in photos {
        form = form.part("photo", Part::bytes(*photo).file_name("IMG_0001.jpg").mime_str("image/jpeg").unwrap());
    }
    form
}

async fn all_reports(app: &TestApp) -> Vec<balagh_domain::Report> {
    app.app.list_reports(ReportQuery { limit: 1000, ..ReportQuery::default() }, &Actor::system()).await.unwrap()
}

/// Opens a pothole report through the portal; returns its ticket.
async fn open_pothole(visitor: &mut Visitor<'_>, key: &str) -> String {
    visitor.get("/ar/report/new?service=pothole").await;
    let csrf = visitor.csrf();
    let (status, location, body) = visitor.post_multipart("/ar/report", pothole_form(&csrf, key, &[PHOTO_WITH_LOCATION])).await;
    assert_eq!(status, 303, "{body}");
    location.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_root_sends_each_visitor_to_his_language() {
    let app = spawn_app_for_portal(test_portal()).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let go = |accept: &'static str, cookie: &'static str| client.get(app.url("/")).header("accept-language", accept).header("cookie", cookie).send();
    let location = |r: reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location(go("en-GB,en;q=0.9", "").await.unwrap()), "/en/");
    assert_eq!(location(go("fr-FR", "").await.unwrap()), "/ar/", "Arabic when nothing we serve is asked for");
    assert_eq!(location(go("en", "balagh_lang=ar").await.unwrap()), "/ar/", "the cookie wins over the browser");
    assert_eq!(location(go("", "balagh_lang=xx").await.unwrap()), "/ar/");
}

#[tokio::test]
async fn every_page_speaks_arabic_right_to_left_and_english_left_to_right() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    for (lang, dir, word) in [("ar", "rtl", "بلاغ جديد"), ("en", "ltr", "New report")] {
        for path in ["/", "/report/new", "/report/new?service=pothole", "/track", "/reports", "/inquiry"] {
            let (status, html) = visitor.get(&format!("/{lang}{path}")).await;
            assert_eq!(status, 200, "{lang}{path}");
            assert!(html.contains(&format!("<html lang=\"{lang}\" dir=\"{dir}\">")), "{lang}{path}");
            assert!(html.contains(word), "{lang}{path} has the navigation in its language");
            assert!(!html.contains("portal-"), "{lang}{path} shows a Fluent key instead of its text");
            assert!(html.contains("<main id=\"main\">") && html.contains("<nav class=\"main-nav\""), "landmarks on {lang}{path}");
        }
        assert!(visitor.cookies.contains(&format!("balagh_lang={lang}")), "the language is remembered");
    }
    let (status, html) = visitor.get("/xx/").await;
    assert_eq!(status, 404);
    assert!(html.contains("dir=\"rtl\""), "the not-found page is a portal page too");
}

#[tokio::test]
async fn choosing_a_service_works_by_arabic_or_english_words_without_javascript() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    let (_, html) = visitor.get("/ar/report/new?q=حفره").await;
    assert!(html.contains("value=\"pothole\""), "a pothole is found by its Arabic name typed without the taa marbuta");
    assert!(!html.contains("value=\"graffiti\""));
    let (_, html) = visitor.get("/en/report/new?q=STREET+light").await;
    assert!(html.contains("value=\"broken-streetlight\"") && !html.contains("value=\"pothole\""));
    let (_, html) = visitor.get("/en/report/new?q=zzzz").await;
    assert!(html.contains("id=\"service-none\" class=\"notice warning\" >"), "the no-match notice shows");
    let (_, html) = visitor.get("/ar/report/new?service=pothole").await;
    assert!(html.contains("name=\"attr_pothole_size\""), "the service's own question is asked");
}

#[tokio::test]
async fn a_report_with_a_photo_is_opened_once_with_its_location_metadata_removed() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    let ticket = open_pothole(&mut visitor, "form-key-1").await;

    let (status, html) = visitor.get(&format!("/ar/report/received/{ticket}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("id=\"ticket\" class=\"ticket\" dir=\"ltr\">{ticket}<")), "the ticket is shown large");
    assert!(!html.contains(PHONE) && !html.contains("سالم") && !html.contains("salem@"), "nothing personal on the confirmation");

    let reports = all_reports(&app).await;
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!((report.channel, report.service_code.as_str()), (Channel::Web, "pothole"));
    assert_eq!(report.contact.phone.as_ref().unwrap().as_str(), "+966551234567");
    let photo = report.media.iter().find_map(|m| m.strip_prefix("media:photo:")).expect("the photo is named on the report");
    let stored = app.app.store.db.media(report.id, photo).await.unwrap().expect("the photo is stored with the report");
    assert_eq!(stored.content_type, "image/jpeg");
    assert!(stored.bytes.starts_with(&[0xFF, 0xD8]) && stored.bytes.len() < PHOTO_WITH_LOCATION.len());
    assert!(!stored.bytes.windows(PHOTO_EXIF_MARKER.len()).any(|w| w == PHOTO_EXIF_MARKER), "the Exif (camera, GPS) is gone");
    let outbox = app.app.store.db.outbox_rows(&OutboxFilter { report: Some(report.id), limit: 100, ..OutboxFilter::default() }).await.unwrap();
    assert!(outbox.iter().any(|row| row.topic == "received" && row.recipient == "sms:+966551234567"), "the ticket is on its way by SMS: {outbox:?}");

    // Staff see the photo through the API; the public and other departments do not.
    let url = app.url(&format!("/api/v1/reports/{ticket}/photos/{photo}"));
    let supervisor = app.api_key(Role::Supervisor, None).await;
    let response = app.client.get(&url).bearer_auth(&supervisor).send().await.unwrap();
    assert_eq!((response.status().as_u16(), response.headers()["content-type"].to_str().unwrap()), (200, "image/jpeg"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), stored.bytes.as_slice());
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);
    let elsewhere = app.api_key(Role::Staff, Some("cleanliness")).await;
    assert_eq!(app.client.get(&url).bearer_auth(&elsewhere).send().await.unwrap().status(), 403);
    let unknown = app.url(&format!("/api/v1/reports/{ticket}/photos/{}", "0".repeat(64)));
    assert_eq!(app.client.get(&unknown).bearer_auth(&supervisor).send().await.unwrap().status(), 404);

    // The same form sent again (a double click, an offline draft sent on reconnection).
    let csrf = visitor.csrf();
    let (status, location, _) = visitor.post_multipart("/ar/report", pothole_form(&csrf, "form-key-1", &[PHOTO_WITH_LOCATION])).await;
    assert_eq!((status, location), (303, format!("/ar/report/received/{ticket}")));
    assert_eq!(all_reports(&app).await.len(), 1, "one report however often the form is sent");
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    visitor.get("/en/report/new?service=pothole").await;
    let (status, _, html) = visitor.post_multipart("/en/report", pothole_form("0123456789abcdef0123456789abcdef", "k", &[])).await;
    assert_eq!(status, 403);
    assert!(html.contains("This form has expired"), "{html}");
    let mut stranger = Visitor::new(&app);
    let (status, _, _) = stranger.post_multipart("/en/report", pothole_form("", "k", &[])).await;
    assert_eq!(status, 403, "no cookie at all");
    let (status, _) = stranger.post_form("/en/track", &[("csrf", ""), ("ticket", "1000016"), ("last4", "4567")]).await;
    assert_eq!(status, 403);
    assert!(all_reports(&app).await.is_empty());
}

#[tokio::test]
async fn a_refused_form_comes_back_with_what_was_typed_and_each_problem_in_the_visitor_s_language() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    visitor.get("/ar/report/new?service=pothole").await;
    let csrf = visitor.csrf();
    let form = Form::new()
        .text("csrf", csrf)
        .text("idempotency_key", "bad-1")
        .text("service_code", "pothole")
        .text("description", "وصف <script>alert(1)</script>")
        .text("phone", "12")
        .part("photo", Part::bytes(b"GIF89a not a photo".to_vec()).file_name("a.jpg"));
    let (status, _, html) = visitor.post_multipart("/ar/report", form).await;
    assert_eq!(status, 422);
    for message in ["رقم الجوال غير صحيح", "هذا الملف ليس صورة", "يرجى الموافقة على نص الموافقة", "حدّد الموقع على الخريطة", "يرجى الإجابة عن هذا السؤال"]
    {
        assert!(html.contains(message), "missing «{message}»");
    }
    assert!(html.contains("وصف &#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("وصف &lt;script&gt;"), "typed text comes back, escaped");
    assert!(!html.contains("<script>alert(1)"));
    assert!(all_reports(&app).await.is_empty(), "nothing is stored");

    let (status, _, html) = visitor.post_multipart("/ar/report", Form::new().text("csrf", visitor.csrf())).await;
    assert_eq!(status, 422, "an empty form");
    assert!(html.contains("اختر خدمة"), "{html}");

    // Four photos, each a byte over the 5 MB limit: every problem is named, nothing is stored.
    let big: &'static [u8] = Box::leak(vec![0xFFu8; 5 * 1024 * 1024 + 1].into_boxed_slice());
    let csrf = visitor.csrf();
    let (status, _, html) = visitor.post_multipart("/ar/report", pothole_form(&csrf, "big-1", &[big, big, big, big])).await;
    assert_eq!(status, 422);
    assert!(html.contains("أكبر من 5 ميجابايت"), "the visitor is told the photos are too large");
    assert!(html.contains("يمكنك إرفاق 3 صور كحد أقصى"), "and that there are too many");
    assert!(all_reports(&app).await.is_empty());
}

#[tokio::test]
async fn tracking_needs_the_ticket_and_the_last_four_digits_and_shows_nothing_personal() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    let ticket = open_pothole(&mut visitor, "track-1").await;
    let csrf = visitor.csrf();

    let (status, html) = visitor.post_form("/en/track", &[("csrf", &csrf), ("ticket", &ticket), ("last4", "0000")]).await;
    assert_eq!(status, 403);
    assert!(html.contains("do not match") && !html.contains("id=\"report-status\""));
    let (status, html) = visitor.post_form("/en/track", &[("csrf", &csrf), ("ticket", "12345678"), ("last4", "4567")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("This ticket number is not valid"));

    let (status, html) = visitor.post_form("/ar/track", &[("csrf", &csrf), ("ticket", &ticket), ("last4", "٤٥٦٧")]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"report-status\"") && html.contains("id=\"timeline\""));
    assert!(html.contains("قُدّم البلاغ"), "the opening is on the timeline");
    assert!(html.contains("id=\"sla\" class=\"badge sla-on-time\""), "the SLA in plain words");
    assert!(html.contains("id=\"expected\""), "the expected date");
    assert!(html.contains("هـ"), "dates in Hijri too for Arabic");
    for personal in ["+966551234567", PHONE, "سالم", "salem@example.com"] {
        assert!(!html.contains(personal), "the tracking page shows {personal}");
    }
    assert!(html.contains("id=\"follow-up-form\"") && !html.contains("id=\"survey-form\""));
}

#[tokio::test]
async fn a_follow_up_from_the_tracking_page_says_what_it_did() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    let ticket = open_pothole(&mut visitor, "follow-1").await;
    let csrf = visitor.csrf();
    let follow = [("csrf", csrf.as_str()), ("ticket", ticket.as_str()), ("last4", "4567"), ("text", "لم يحضر أحد")];
    let (status, html) = visitor.post_form("/en/track/follow-up", &follow).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"notice\"") && html.contains("Your follow-up was received"), "{html}");
    let report = app.app.report(TicketNumber::parse(&ticket).unwrap()).await.unwrap();
    assert_eq!(report.n_follow_ups, 1);
    assert!(html.contains("You followed up on the report"), "on the timeline");

    let (status, html) = visitor.post_form("/en/track/follow-up", &follow).await;
    assert_eq!(status, 409);
    assert!(html.contains("You followed up recently") && html.contains("id=\"report-status\""), "too soon, and the report is still shown");
}

#[tokio::test]
async fn the_closure_survey_appears_once_resolved_and_a_not_fixed_reopens_the_report() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    let ticket = TicketNumber::parse(&open_pothole(&mut visitor, "rate-1").await).unwrap();
    let supervisor = Actor::new(Role::Supervisor, "supervisor-1");
    let department = app.app.report(ticket).await.unwrap().assignment.department;
    for command in [Command::Assign { department, team: None, user: None }, Command::Start, Command::Resolve { resolution: "filled".into() }] {
        app.app.transition(ticket, command, &supervisor, Channel::Web).await.unwrap();
    }
    let csrf = visitor.csrf();
    let ticket_text = ticket.to_string();
    let (_, html) = visitor.post_form("/en/track", &[("csrf", &csrf), ("ticket", &ticket_text), ("last4", "4567")]).await;
    assert!(html.contains("id=\"survey-form\"") && !html.contains("id=\"follow-up-form\""));

    let bad = [("csrf", csrf.as_str()), ("ticket", &ticket_text), ("last4", "4567"), ("quality", "9"), ("speed", "")];
    let (status, html) = visitor.post_form("/en/track/rate", &bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"survey-form\""), "asked again");

    let rating = [
        ("csrf", csrf.as_str()),
        ("ticket", &ticket_text),
        ("last4", "4567"),
        ("quality", "2"),
        ("speed", "4"),
        ("comment", "still a hole"),
        ("not_fixed", "yes"),
    ];
    let (status, html) = visitor.post_form("/en/track/rate", &rating).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The report was reopened"));
    assert_eq!(app.app.report(ticket).await.unwrap().status, Status::Reopened);
    let (status, _) = visitor.post_form("/en/track/rate", &rating).await;
    assert_eq!(status, 409, "the report is no longer resolved");
}

#[tokio::test]
async fn tracking_and_reporting_are_rate_limited_per_ticket_and_per_phone() {
    let limits = RateLimits { reports_per_address: 100, reports_per_phone: 1, tracks_per_address: 100, tracks_per_ticket: 3 };
    let app = spawn_app_for_portal(PortalConfig { rate_limits: limits, ..test_portal() }).await;
    let mut visitor = Visitor::new(&app);
    let ticket = open_pothole(&mut visitor, "limit-1").await;
    let csrf = visitor.csrf();
    for guess in ["0001", "0002", "0003"] {
        let (status, _) = visitor.post_form("/en/track", &[("csrf", &csrf), ("ticket", &ticket), ("last4", guess)]).await;
        assert_eq!(status, 403);
    }
    let (status, html) = visitor.post_form("/en/track", &[("csrf", &csrf), ("ticket", &ticket), ("last4", "4567")]).await;
    assert_eq!(status, 429, "the fourth try on one ticket waits, even with the right digits");
    assert!(html.contains("Too many attempts"));

    let (status, _, html) = visitor.post_multipart("/en/report", pothole_form(&csrf, "limit-2", &[])).await;
    assert_eq!(status, 429, "a second report from the same phone within the hour");
    assert!(html.contains("Too many attempts"));
    assert_eq!(all_reports(&app).await.len(), 1);
}

#[tokio::test]
async fn the_public_list_shows_open_reports_filtered_and_nothing_personal() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    let pothole = open_pothole(&mut visitor, "public-1").await;
    let csrf = visitor.csrf();
    let graffiti = Form::new()
        .text("csrf", csrf)
        .text("idempotency_key", "public-2")
        .text("service_code", "graffiti")
        .text("description", "كتابات على الجدار")
        .text("city", "الخبر")
        .text("district", "العقربية")
        .text("phone", "0559876543")
        .text("consent", "yes");
    let (status, location, _) = visitor.post_multipart("/ar/report", graffiti).await;
    assert_eq!(status, 303);
    let graffiti = location.rsplit('/').next().unwrap().to_owned();

    let (_, html) = visitor.get("/en/reports").await;
    assert!(html.contains(&format!("id=\"r-{pothole}\"")) && html.contains(&format!("id=\"r-{graffiti}\"")));
    assert!(html.contains("\"lat\":26.431"), "the pinned report is on the map");
    for personal in ["0559876543", "+966", "سالم", "salem@", "حفرة عميقة", "كتابات على الجدار"] {
        assert!(!html.contains(personal), "the public list shows {personal}");
    }
    let (_, html) = visitor.get("/en/reports?service=graffiti").await;
    assert!(html.contains(&format!("id=\"r-{graffiti}\"")) && !html.contains(&format!("id=\"r-{pothole}\"")));
    let (_, html) = visitor.get("/en/reports?district=%D8%A7%D9%84%D9%81%D9%8A%D8%B5%D9%84%D9%8A%D8%A9").await;
    assert!(html.contains(&format!("id=\"r-{pothole}\"")) && !html.contains(&format!("id=\"r-{graffiti}\"")), "by district");

    // From Khobar, the pinned Dammam pothole is listed first with its distance, the graffiti
    // (no pin) after it; a position that cannot be read is said and ignored.
    let (status, html) = visitor.get("/en/reports?near=26.2172,50.1971").await;
    assert_eq!(status, 200);
    let (first, second) = (html.find(&format!("id=\"r-{pothole}\"")).unwrap(), html.find(&format!("id=\"r-{graffiti}\"")).unwrap());
    assert!(first < second, "nearest first");
    assert!(html.contains("25.6 km away"), "the distance is shown");
    assert!(html.contains("data-lat=\"26.2172\"") && html.contains("name=\"near\""), "the map opens where the visitor is; filters keep it");
    let (_, html) = visitor.get("/ar/reports?near=26.2172,50.1971").await;
    assert!(html.contains("على بعد ٢٥.٦ كم"), "in Arabic digits");
    let (status, html) = visitor.get("/en/reports?near=north").await;
    assert_eq!(status, 422);
    assert!(html.contains("This location could not be read") && html.contains(&format!("id=\"r-{graffiti}\"")));

    let supervisor = Actor::new(Role::Supervisor, "supervisor-1");
    let ticket = TicketNumber::parse(&graffiti).unwrap();
    app.app.transition(ticket, Command::Reject { reason: "not municipal".into() }, &supervisor, Channel::Web).await.unwrap();
    let (_, html) = visitor.get("/en/reports").await;
    assert!(!html.contains(&format!("id=\"r-{graffiti}\"")), "closed reports leave the list");
}

#[tokio::test]
async fn an_inquiry_is_opened_as_an_inquiry_and_gets_its_ticket() {
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Visitor::new(&app);
    visitor.get("/en/inquiry").await;
    let form = Form::new()
        .text("csrf", visitor.csrf())
        .text("idempotency_key", "q-1")
        .text("question", "What are the opening hours of the Dammam office?")
        .text("phone", "+966 55 000 1234")
        .text("language", "en")
        .text("preferred_channel", "email")
        .text("email", "asker@example.com")
        .text("consent", "yes");
    let (status, location, body) = visitor.post_multipart("/en/inquiry", form).await;
    assert_eq!(status, 303, "{body}");
    let (_, html) = visitor.get(&location).await;
    assert!(html.contains("Question received"));
    let reports = all_reports(&app).await;
    assert_eq!(reports[0].kind, balagh_domain::ContactKind::Inquiry);
    assert_eq!(reports[0].service_code, "general-inquiry");
    let outbox = app.app.store.db.outbox_rows(&OutboxFilter { report: Some(reports[0].id), limit: 10, ..OutboxFilter::default() }).await.unwrap();
    assert!(outbox.iter().any(|row| row.topic == "received" && row.recipient == "email:asker@example.com"), "on the channel asked for");

    let (status, _, html) = visitor.post_multipart("/en/inquiry", Form::new().text("csrf", visitor.csrf()).text("phone", PHONE).text("consent", "yes")).await;
    assert_eq!(status, 422);
    assert!(html.contains("Describe the problem or the question"));
}

#[tokio::test]
async fn static_files_are_compressed_and_revalidated_and_no_page_weighs_over_200_kb() {
    let app = spawn_app_for_portal(test_portal()).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let css = client.get(app.url("/static/portal/portal.css")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(css.headers()["content-encoding"], "gzip");
    let tag = css.headers()["etag"].to_str().unwrap().to_owned();
    let again = client.get(app.url("/static/portal/portal.css")).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let worker = client.get(app.url("/sw.js")).send().await.unwrap();
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    let manifest: serde_json::Value = client.get(app.url("/manifest.webmanifest")).send().await.unwrap().json().await.unwrap();
    assert!(manifest["icons"].as_array().unwrap().iter().any(|icon| icon["sizes"] == "512x512"));
    assert_eq!(client.get(app.url("/static/portal/nope.js")).send().await.unwrap().status(), 404);

    // The first load of each page: the HTML and every script and style it names, compressed.
    for page in ["/ar/", "/ar/report/new", "/ar/report/new?service=pothole", "/ar/track", "/ar/reports", "/ar/inquiry"] {
        let html = client.get(app.url(page)).send().await.unwrap().text().await.unwrap();
        let mut total = transfer_size(&client, &app.url(page)).await;
        for asset in html.split('"').filter(|s| s.starts_with("/static/") && (s.ends_with(".js") || s.ends_with(".css"))) {
            total += transfer_size(&client, &app.url(asset)).await;
        }
        assert!(total < 200 * 1024, "{page} weighs {total} bytes on first load");
    }
}

/// The bytes a browser that accepts gzip and brotli downloads for `url`.
async fn transfer_size(client: &reqwest::Client, url: &str) -> usize {
    let response = client.get(url).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert!(response.status().is_success(), "{url}");
    response.bytes().await.unwrap().len()
}
