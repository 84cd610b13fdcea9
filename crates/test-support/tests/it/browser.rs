//! The browser harness against a tiny page served on 127.0.0.1 port 0: the page reports what the
//! browser tells it (language, connectivity), and the server records what the browser sent.

use axum::Form;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use balagh_test_support::browser::{Browser, BrowserOptions};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PAGE: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>harness</title>
</head>
<body>
<form id="form" action="/submit" method="post">
  <input id="name" name="name">
  <select id="colour" name="colour"><option value="red">Red</option><option value="green">Green</option></select>
  <input id="agree" type="checkbox" name="agree" value="yes">
  <input id="photo" type="file" name="photo">
  <button id="send" type="submit">Send</button>
</form>
<div id="out"></div>
<div style="height: 2000px">tall, so that a full-page screenshot is longer than the viewport</div>
<script>
  const seen = [];
  const show = () => {
    document.getElementById('out').textContent =
      'language=' + navigator.language + ' online=' + navigator.onLine + ' events=' + seen.join(',');
  };
  addEventListener('offline', () => { seen.push('offline'); show(); });
  addEventListener('online', () => { seen.push('online'); show(); });
  show();
</script>
</body>
</html>"#;

/// The local server: the page, and a form handler that echoes what it received.
struct TestServer {
    address: String,
    accept_languages: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    fn accept_languages(&self) -> Vec<String> {
        self.accept_languages.lock().expect("lock").clone()
    }
}

async fn serve_page() -> TestServer {
    let accept_languages = Arc::new(Mutex::new(Vec::new()));
    let recorded = accept_languages.clone();
    let page = move |headers: HeaderMap| {
        let recorded = recorded.clone();
        async move {
            let language = headers.get("accept-language").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
            recorded.lock().expect("lock").push(language);
            Html(PAGE)
        }
    };
    let submit = |Form(fields): Form<BTreeMap<String, String>>| async move {
        let echoed: Vec<String> = fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
        Html(format!("<!doctype html><meta charset=utf-8><p id=result>{}</p>", echoed.join(";")))
    };
    let router = axum::Router::new().route("/", get(page)).route("/submit", axum::routing::post(submit));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    TestServer { address, accept_languages }
}

async fn inner_width(browser: &Browser) -> u64 {
    browser.execute("return window.innerWidth;", Vec::new()).await.expect("innerWidth").as_u64().expect("a number")
}

#[tokio::test]
async fn a_phone_in_arabic_is_360_wide_asks_for_arabic_and_submits_a_form() {
    let server = serve_page().await;
    let browser = Browser::start(BrowserOptions::phone("ar")).await.expect("start browser");

    browser.goto(&server.url("/")).await.expect("open page");
    browser.wait_for_text("#out", "language=ar").await.expect("page ran its script");
    assert!(server.accept_languages()[0].starts_with("ar"), "Accept-Language: {:?}", server.accept_languages());
    assert_eq!(inner_width(&browser).await, 360);
    assert_eq!(browser.execute("return navigator.maxTouchPoints > 0;", Vec::new()).await.expect("touch"), true);
    assert_eq!(browser.attr("#agree", "type").await.expect("attribute").as_deref(), Some("checkbox"));
    assert!(browser.page_source().await.expect("source").contains("id=\"out\""));

    let photo = tempfile::Builder::new().prefix("photo").suffix(".jpg").tempfile().expect("temporary file");
    browser.fill("#name", "محمد العتيبي").await.expect("fill name");
    browser.select("#colour", "green").await.expect("select colour");
    browser.check("#agree").await.expect("check agree");
    browser.check("#agree").await.expect("checking twice leaves it checked");
    browser.attach("#photo", photo.path()).await.expect("attach photo");
    let file_name = photo.path().file_name().expect("file name").to_str().expect("UTF-8");
    let chosen = browser.execute("return document.getElementById('photo').files[0].name;", Vec::new()).await.expect("chosen file");
    assert_eq!(chosen, file_name);
    browser.click("#send").await.expect("submit");

    let result = browser.wait_for_text("#result", "name=").await.expect("result page");
    assert_eq!(result, "agree=yes;colour=green;name=محمد العتيبي;photo=".to_owned() + file_name);
    assert!(browser.current_url().await.expect("url").ends_with("/submit"));
    browser.quit().await.expect("quit");
}

#[tokio::test]
async fn a_desktop_in_english_is_1280_wide_and_asks_for_english() {
    let server = serve_page().await;
    let mut browser = Browser::start(BrowserOptions::desktop("en")).await.expect("start browser");

    browser.goto(&server.url("/")).await.expect("open page");
    let out = browser.wait_for_text("#out", "language=en").await.expect("page ran its script");
    assert!(out.contains("online=true"), "{out}");
    assert!(server.accept_languages()[0].starts_with("en"), "Accept-Language: {:?}", server.accept_languages());
    assert_eq!(inner_width(&browser).await, 1280);

    browser.set_wait_bound(Duration::from_millis(300));
    let error = browser.wait_for_text("#out", "never shown").await.expect_err("text never comes");
    let message = error.to_string();
    assert!(message.contains("\"#out\"") && message.contains("language=en"), "{message}");
    browser.quit().await.expect("quit");
}

#[tokio::test]
async fn going_offline_and_back_is_seen_by_the_page() {
    let server = serve_page().await;
    let browser = Browser::start(BrowserOptions::phone("ar")).await.expect("start browser");
    browser.goto(&server.url("/")).await.expect("open page");
    browser.wait_for_text("#out", "online=true").await.expect("page starts online");

    browser.set_offline(true).await.expect("go offline");
    browser.wait_until("navigator.onLine === false").await.expect("navigator.onLine is false");
    browser.wait_for_text("#out", "online=false events=offline").await.expect("page saw the offline event");

    browser.set_offline(false).await.expect("come back");
    browser.wait_until("navigator.onLine === true").await.expect("navigator.onLine is true");
    browser.wait_for_text("#out", "online=true events=offline,online").await.expect("page saw the online event");
    browser.quit().await.expect("quit");
}

#[tokio::test]
async fn a_phone_screenshot_is_a_png_360_wide_of_the_whole_page() {
    let server = serve_page().await;
    let browser = Browser::start(BrowserOptions::phone("ar")).await.expect("start browser");
    browser.goto(&server.url("/")).await.expect("open page");
    browser.wait_for("#out").await.expect("page shown");

    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("shots/phone.png");
    browser.screenshot(&path).await.expect("screenshot");

    let png = std::fs::read(&path).expect("read screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
    assert_eq!(width, 360);
    assert!(height > 2000, "the whole page, not just the 780 pixel viewport: {height}");
    browser.quit().await.expect("quit");
}
