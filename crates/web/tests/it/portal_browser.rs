//! The citizen portal in a real browser (Debian's headless Chromium), with its JavaScript: a
//! report opened on a phone in Arabic with a photo and a map pin, tracked, followed up and rated
//! after staff resolve it through the API; the same on a desktop in English; a report typed
//! offline and sent once when the connection returns; the place of a report opened by phone
//! marked from the link in its text message; and the screenshots of the main pages.
//!
//! Screenshots go to the directory named by `BALAGH_SCREENSHOTS` (README's come from
//! `BALAGH_SCREENSHOTS=docs/screenshots`), else to a temporary directory.

use crate::portal_place::report_awaiting_place;
use balagh_app::ReportQuery;
use balagh_domain::event::{Actor, Role};
use balagh_domain::vocabulary::Status;
use balagh_domain::{Report, TicketNumber};
use balagh_test_support::browser::{Browser, BrowserOptions};
use balagh_test_support::{AXE_CORE, PHOTO_EXIF_MARKER, TestApp, spawn_app_for_portal, test_portal};
use serde_json::json;
use std::path::{Path, PathBuf};

const PHONE: &str = "0551234567";

fn photo_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-support/fixtures/pothole-with-gps.jpg")
}

async fn all_reports(app: &TestApp) -> Vec<Report> {
    app.app.list_reports(ReportQuery { limit: 1000, ..ReportQuery::default() }, &Actor::system()).await.unwrap()
}

/// Where screenshots go, and a guard keeping a temporary directory alive.
fn screenshot_directory() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var_os("BALAGH_SCREENSHOTS") {
        Some(directory) => (PathBuf::from(directory), None),
        None => {
            let temporary = tempfile::tempdir().unwrap();
            (temporary.path().to_owned(), Some(temporary))
        }
    }
}

/// Saves a full-page screenshot and checks it is a PNG as wide as the viewport.
async fn screenshot(browser: &Browser, directory: &Path, name: &str) {
    let path = directory.join(format!("{name}.png"));
    browser.screenshot(&path).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    assert_eq!(width, browser.options().width, "{name} is as wide as the viewport");
}

/// Chooses a service on the first step by searching for `words` and picking `code`.
async fn choose_service(browser: &Browser, words: &str, code: &str) {
    browser.fill("#service-search", words).await.unwrap();
    // The search filters as one types: the match stays, the rest hide.
    browser.wait_until("document.querySelector('label.service[hidden]') !== null").await.unwrap();
    browser.wait_until(&format!("!document.getElementById('service-{code}').closest('label').hidden")).await.unwrap();
    browser.click(&format!("#service-{code}")).await.unwrap();
    browser.click("#choose-service").await.unwrap();
    browser.wait_for("#report-form").await.unwrap();
}

/// Fills the pothole form as a beneficiary would: a size, words, the photo, a pin, the phone.
async fn fill_pothole(browser: &Browser, description: &str) {
    browser.click("input[name=attr_pothole_size][value=medium]").await.unwrap();
    browser.fill("#description", description).await.unwrap();
    browser.attach("#photos", &photo_path()).await.unwrap();
    browser.wait_for("#map .leaflet-tile-pane").await.unwrap();
    browser.click("#map").await.unwrap();
    browser.wait_until("document.getElementById('lat').value !== '' && document.getElementById('lon').value !== ''").await.unwrap();
    browser.fill("#phone", PHONE).await.unwrap();
    browser.check("#consent").await.unwrap();
}

/// Staff move the report to resolved through the JSON API.
async fn resolve_through_the_api(app: &TestApp, ticket: &str) {
    let key = app.api_key(Role::Supervisor, None).await;
    for body in [json!({"action": "assign"}), json!({"action": "start"}), json!({"action": "resolve", "resolution": "the hole was filled"})] {
        let response = app.client.post(app.url(&format!("/api/v1/reports/{ticket}/transitions"))).bearer_auth(&key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{body}");
    }
}

/// Opens the tracking page for `ticket` and proves it with the phone's last digits.
async fn track(browser: &Browser, app: &TestApp, lang: &str, ticket: &str) {
    browser.goto(&app.url(&format!("/{lang}/track?ticket={ticket}"))).await.unwrap();
    assert_eq!(browser.attr("#ticket", "value").await.unwrap().as_deref(), Some(ticket), "the ticket is filled in from the link");
    browser.fill("#last4", "4567").await.unwrap();
    browser.click("#track-submit").await.unwrap();
    browser.wait_for("#report-status").await.unwrap();
}

/// The whole story in one language: open with a photo and a pin, track, follow up, rate.
async fn report_track_follow_up_and_rate(options: BrowserOptions, texts: [&str; 5]) {
    let [search, received, followed, thanks, description] = texts;
    let lang = options.language.clone();
    let app = spawn_app_for_portal(test_portal()).await;
    let browser = Browser::start(options).await.unwrap();

    browser.goto(&app.url("/")).await.unwrap();
    browser.wait_for("#home-new").await.unwrap();
    assert!(browser.current_url().await.unwrap().ends_with(&format!("/{lang}/")), "the browser's language decides");
    assert_eq!(browser.attr("html", "dir").await.unwrap().as_deref(), Some(if lang == "ar" { "rtl" } else { "ltr" }));
    browser.click("#home-new").await.unwrap();
    browser.wait_for("#service-search").await.unwrap();
    choose_service(&browser, search, "pothole").await;
    fill_pothole(&browser, description).await;
    browser.click("#submit-report").await.unwrap();

    let ticket = browser.wait_for_text("#ticket", "").await.unwrap().trim().to_owned();
    assert!(TicketNumber::parse(&ticket).is_ok(), "{ticket}");
    browser.wait_for_text("h1", received).await.unwrap();

    let reports = all_reports(&app).await;
    assert_eq!(reports.len(), 1, "one report");
    let report = &reports[0];
    assert_eq!(report.ticket().to_string(), ticket);
    assert_eq!(report.description.as_str(), description);
    let pin = report.location.coordinates.expect("the pin dropped on the map");
    assert!((pin.lat() - 26.42).abs() < 0.5 && (pin.lon() - 50.09).abs() < 0.5, "near where the map opened: {pin:?}");
    let photo = report.media.iter().find_map(|m| m.strip_prefix("media:photo:")).expect("the photo");
    let stored = app.app.store.db.media(report.id, photo).await.unwrap().unwrap();
    assert_eq!(stored.content_type, "image/jpeg", "resized in the browser to a JPEG");
    assert!(!stored.bytes.windows(PHOTO_EXIF_MARKER.len()).any(|w| w == PHOTO_EXIF_MARKER), "no camera or location data");

    track(&browser, &app, &lang, &ticket).await;
    browser.click("#follow-up-submit").await.unwrap();
    browser.wait_for_text("#notice", followed).await.unwrap();
    assert_eq!(app.app.report(report.ticket()).await.unwrap().n_follow_ups, 1);

    resolve_through_the_api(&app, &ticket).await;
    track(&browser, &app, &lang, &ticket).await;
    browser.wait_for("#survey-form").await.unwrap();
    // The rating buttons are labels drawn over their radio buttons: choose as a finger would.
    browser.click("label:has(#quality-5)").await.unwrap();
    browser.click("label:has(#speed-4)").await.unwrap();
    browser.fill("#survey-comment", "👍").await.unwrap();
    browser.click("#survey-submit").await.unwrap();
    browser.wait_for_text("#notice", thanks).await.unwrap();
    assert_eq!(app.app.report(report.ticket()).await.unwrap().status, Status::Closed, "a good rating closes the report");

    browser.quit().await.unwrap();
}

#[tokio::test]
async fn a_report_in_arabic_on_a_phone_from_photo_and_pin_to_the_closure_rating() {
    let texts = ["حفرة", "تم استلام البلاغ", "استلمنا متابعتك", "شكرًا لك", "حفرة عميقة أمام المدرسة"];
    report_track_follow_up_and_rate(BrowserOptions::phone("ar"), texts).await;
}

#[tokio::test]
async fn a_report_in_english_on_a_desktop_from_photo_and_pin_to_the_closure_rating() {
    let texts = ["pothole", "Report received", "Your follow-up was received", "Thank you", "A deep pothole in front of the school"];
    report_track_follow_up_and_rate(BrowserOptions::desktop("en"), texts).await;
}

#[tokio::test]
async fn a_report_typed_offline_is_sent_once_when_the_connection_returns() {
    let app = spawn_app_for_portal(test_portal()).await;
    let browser = Browser::start(BrowserOptions::phone("ar")).await.unwrap();
    browser.goto(&app.url("/ar/report/new?service=pothole")).await.unwrap();
    browser.wait_for("#report-form").await.unwrap();
    fill_pothole(&browser, "كتبت هذا البلاغ بلا اتصال").await;

    // The service worker has taken the page and cached the app's shell.
    browser.wait_until("navigator.serviceWorker.controller !== null").await.unwrap();
    browser.wait_until("(async () => (await caches.match('/ar/report/new')) !== undefined)()").await.unwrap();

    browser.set_offline(true).await.unwrap();
    browser.wait_until("navigator.onLine === false").await.unwrap();
    browser.click("#submit-report").await.unwrap();
    browser.wait_for_text("#draft-status", "حُفظ بلاغك").await.unwrap();
    assert!(all_reports(&app).await.is_empty(), "nothing reached the server while offline");
    // Offline, the portal still opens from the cached shell.
    browser.goto(&app.url("/ar/report/new")).await.unwrap();
    browser.wait_for("#service-search").await.unwrap();

    browser.set_offline(false).await.unwrap();
    let sent = browser.wait_for_text("#draft-status", "أُرسل بلاغك المحفوظ").await.unwrap();
    let reports = all_reports(&app).await;
    assert_eq!(reports.len(), 1, "sent once");
    assert!(sent.contains(&reports[0].ticket().to_string()), "the ticket is shown: {sent}");
    assert_eq!(reports[0].description.as_str(), "كتبت هذا البلاغ بلا اتصال");
    assert!(reports[0].media.iter().any(|m| m.starts_with("media:photo:")), "with its photo");

    // Pages opened later do not send it again.
    browser.goto(&app.url("/ar/")).await.unwrap();
    browser.wait_for("#home-new").await.unwrap();
    browser.wait_until("window.indexedDB !== undefined").await.unwrap();
    let waiting = browser
        .execute(
            "return new Promise((done) => { const open = indexedDB.open('balagh', 1); open.onsuccess = () => { const db = open.result; if (!db.objectStoreNames.contains('drafts')) { done(0); return; } const count = db.transaction('drafts').objectStore('drafts').count(); count.onsuccess = () => done(count.result); }; open.onerror = () => done(-1); });",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(waiting, json!(0), "no draft is left waiting");
    assert_eq!(all_reports(&app).await.len(), 1);
    browser.quit().await.unwrap();
}

#[tokio::test]
async fn screenshots_of_the_main_pages_in_arabic_and_english_at_360_and_1280_pixels() {
    let (directory, _keep) = screenshot_directory();
    let app = spawn_app_for_portal(test_portal()).await;
    let mut visitor = Browser::start(BrowserOptions::desktop("ar")).await.unwrap();
    visitor.set_wait_bound(std::time::Duration::from_secs(30));
    // One report on the map, opened through the portal itself.
    visitor.goto(&app.url("/ar/report/new?service=pothole")).await.unwrap();
    visitor.wait_for("#report-form").await.unwrap();
    fill_pothole(&visitor, "حفرة عميقة أمام المدرسة").await;
    visitor.click("#submit-report").await.unwrap();
    let ticket = visitor.wait_for_text("#ticket", "").await.unwrap().trim().to_owned();
    visitor.quit().await.unwrap();
    // The page of a place link, on a server of its own: the report waiting for its place would
    // otherwise join the lists the other screenshots show.
    let place_app = spawn_app_for_portal(test_portal()).await;
    let (_, place) = report_awaiting_place(&place_app, "ar", "CA-screenshots").await;
    let token = place.rsplit('/').next().unwrap().to_owned();

    for options in [BrowserOptions::phone("ar"), BrowserOptions::desktop("ar"), BrowserOptions::phone("en"), BrowserOptions::desktop("en")] {
        let (lang, width) = (options.language.clone(), options.width);
        let browser = Browser::start(options).await.unwrap();
        let shots: [(&str, String, &str); 5] = [
            ("home", format!("/{lang}/"), "#home-new"),
            ("choose-service", format!("/{lang}/report/new"), "#service-list"),
            ("report-form", format!("/{lang}/report/new?service=pothole"), "#map .leaflet-tile-pane"),
            ("received", format!("/{lang}/report/received/{ticket}"), "#ticket"),
            ("reports", format!("/{lang}/reports"), "#public-map .leaflet-marker-icon"),
        ];
        for (name, path, ready) in shots {
            browser.goto(&app.url(&path)).await.unwrap();
            browser.wait_for(ready).await.unwrap();
            screenshot(&browser, &directory, &format!("{name}-{lang}-{width}")).await;
        }
        track(&browser, &app, &lang, &ticket).await;
        screenshot(&browser, &directory, &format!("track-{lang}-{width}")).await;
        browser.goto(&place_app.url(&format!("/{lang}/place/{token}"))).await.unwrap();
        browser.wait_for("#map .leaflet-tile-pane").await.unwrap();
        screenshot(&browser, &directory, &format!("place-{lang}-{width}")).await;
        browser.quit().await.unwrap();
    }
}

/// The WCAG 2.1 A and AA rules axe-core finds broken on the page now, one line each.
async fn accessibility_violations(browser: &Browser) -> Vec<String> {
    browser.execute(AXE_CORE, vec![]).await.unwrap();
    let found = browser
        .execute(
            "return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

#[tokio::test]
async fn every_page_passes_the_wcag_2_1_aa_rules_in_both_languages_and_the_map_works_from_the_keyboard() {
    let app = spawn_app_for_portal(test_portal()).await;
    for options in [BrowserOptions::phone("ar"), BrowserOptions::desktop("en")] {
        let lang = options.language.clone();
        let browser = Browser::start(options).await.unwrap();
        browser.goto(&app.url(&format!("/{lang}/report/new?service=pothole"))).await.unwrap();
        browser.wait_for("#map .leaflet-tile-pane").await.unwrap();
        fill_pothole(&browser, "حفرة").await;
        browser.click("#submit-report").await.unwrap();
        let ticket = browser.wait_for_text("#ticket", "").await.unwrap().trim().to_owned();
        let (_, place) = report_awaiting_place(&app, &lang, &format!("CA-axe-{lang}")).await;
        let pages = [
            (format!("/{lang}/"), "#home-new"),
            (format!("/{lang}/report/new"), "#service-list"),
            (format!("/{lang}/report/new?service=pothole"), "#map .leaflet-tile-pane"),
            (format!("/{lang}/report/received/{ticket}"), "#ticket"),
            (format!("/{lang}/track?ticket={ticket}"), "#track-form"),
            (format!("/{lang}/reports"), "#public-map .leaflet-marker-icon"),
            (format!("/{lang}/inquiry"), "#inquiry-form"),
            (place, "#map .leaflet-tile-pane"),
        ];
        for (path, ready) in pages {
            browser.goto(&app.url(&path)).await.unwrap();
            browser.wait_for(ready).await.unwrap();
            assert_eq!(accessibility_violations(&browser).await, Vec::<String>::new(), "{path}");
        }
        track(&browser, &app, &lang, &ticket).await;
        assert_eq!(accessibility_violations(&browser).await, Vec::<String>::new(), "the tracking page with a report");

        // A keyboard user drops the pin: focus the map, press Enter.
        browser.goto(&app.url(&format!("/{lang}/report/new?service=pothole"))).await.unwrap();
        browser.wait_for("#map .leaflet-tile-pane").await.unwrap();
        browser.execute("document.getElementById('map').focus();", vec![]).await.unwrap();
        browser.execute("document.getElementById('map').dispatchEvent(new KeyboardEvent('keypress', { key: 'Enter', bubbles: true }));", vec![]).await.unwrap();
        browser.wait_until("document.getElementById('lat').value !== ''").await.unwrap();
        browser.quit().await.unwrap();
    }
}

#[tokio::test]
async fn the_phone_s_location_finds_the_reports_near_it_and_puts_the_pin_where_it_is() {
    let app = spawn_app_for_portal(test_portal()).await;
    let browser = Browser::start(BrowserOptions::phone("ar")).await.unwrap();
    browser.cdp("Browser.grantPermissions", json!({ "permissions": ["geolocation"], "origin": app.address })).await.unwrap();
    browser.cdp("Emulation.setGeolocationOverride", json!({ "latitude": 26.2172, "longitude": 50.1971, "accuracy": 10 })).await.unwrap();
    browser.goto(&app.url("/ar/")).await.unwrap();
    browser.click("#near-me").await.unwrap();
    browser.wait_for("#near-note").await.unwrap();
    assert!(browser.current_url().await.unwrap().contains("near=26.21720%2C50.19710"), "the reports nearest the phone");

    browser.goto(&app.url("/ar/report/new?service=pothole")).await.unwrap();
    browser.wait_for("#locate").await.unwrap();
    browser.click("#locate").await.unwrap();
    browser.wait_until("document.getElementById('lat').value.startsWith('26.217')").await.unwrap();
    assert!(browser.attr("#lon", "value").await.unwrap().unwrap().starts_with("50.197"));
    browser.quit().await.unwrap();
}

#[tokio::test]
async fn a_caller_marks_the_place_of_his_report_from_the_link_on_a_phone_in_arabic() {
    let app = spawn_app_for_portal(test_portal()).await;
    let (report, path) = report_awaiting_place(&app, "ar", "CA-browser").await;
    let browser = Browser::start(BrowserOptions::phone("ar")).await.unwrap();
    browser.goto(&app.url(&path)).await.unwrap();
    browser.wait_for("#map .leaflet-tile-pane").await.unwrap();
    assert_eq!(browser.attr("html", "dir").await.unwrap().as_deref(), Some("rtl"));
    assert_eq!(browser.text("#ticket").await.unwrap().trim(), report.ticket().to_string());
    // With the map working, the coordinates typed without JavaScript give way to the pin.
    browser.wait_until("document.getElementById('coordinates').hidden").await.unwrap();
    assert_eq!(accessibility_violations(&browser).await, Vec::<String>::new(), "the place page");

    browser.click("#map").await.unwrap();
    browser.wait_until("document.getElementById('lat').value !== '' && document.getElementById('lon').value !== ''").await.unwrap();
    let value = |id: &str| format!("return Number(document.getElementById('{id}').value);");
    let lat = browser.execute(&value("lat"), vec![]).await.unwrap().as_f64().unwrap();
    let lon = browser.execute(&value("lon"), vec![]).await.unwrap().as_f64().unwrap();
    browser.click("#submit-place").await.unwrap();
    browser.wait_for_text("h1", "تم تسجيل الموقع").await.unwrap();
    assert!(browser.text("#place-outcome-body").await.unwrap().contains(&report.ticket().to_string()));
    assert_eq!(accessibility_violations(&browser).await, Vec::<String>::new(), "the confirmation");

    let placed = app.app.report(report.ticket()).await.unwrap();
    assert_eq!(placed.status, Status::New, "the report goes on to the team");
    let pin = placed.location.coordinates.expect("the pin dropped on the map");
    assert_eq!((pin.lat(), pin.lon()), (lat, lon), "the place the map wrote into the form");
    assert!((pin.lat() - 26.42).abs() < 0.5 && (pin.lon() - 50.09).abs() < 0.5, "near where the map opened: {pin:?}");

    // The link opened again says the place is already recorded.
    browser.goto(&app.url(&path)).await.unwrap();
    browser.wait_for_text("h1", "سبق تسجيل الموقع").await.unwrap();
    assert_eq!(accessibility_violations(&browser).await, Vec::<String>::new(), "the page of a used link");
    browser.quit().await.unwrap();
}
