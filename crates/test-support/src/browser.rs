//! A real browser for tests: headless Chromium driven through a chromedriver of its own, with the
//! viewport, language and network conditions a test asks for, and helpers named for what tests do.
//!
//! Every wait polls until its condition holds and fails after a generous bound; nothing sleeps for
//! a fixed time that a test's success depends on.

use anyhow::{Context, Result, bail};
use base64::Engine;
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::{Method, Url};
use serde_json::{Value, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a helper waits for the page before it fails, unless `Browser::set_wait_bound` says otherwise.
pub const WAIT_BOUND: Duration = Duration::from_secs(20);

/// How long chromedriver may take to say it is ready.
const START_BOUND: Duration = Duration::from_secs(30);

/// How long Chromium may take to exit once its session has ended, before it is killed.
const EXIT_BOUND: Duration = Duration::from_secs(10);

/// The longest pause between two polls.
const LONGEST_PAUSE: Duration = Duration::from_millis(250);

/// What the browser looks like to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserOptions {
    /// The one language the browser prefers (`ar` or `en`): `navigator.language` and `Accept-Language`.
    pub language: String,
    /// The CSS viewport's width.
    pub width: u32,
    /// The CSS viewport's height.
    pub height: u32,
    /// A phone: the page's `<meta name=viewport>` is honoured and touch events are on.
    pub mobile: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions::desktop("ar")
    }
}

impl BrowserOptions {
    /// A small phone, 360 by 780 CSS pixels, with touch.
    pub fn phone(language: impl Into<String>) -> Self {
        BrowserOptions { language: language.into(), width: 360, height: 780, mobile: true }
    }

    /// A desktop window, 1280 by 900 CSS pixels.
    pub fn desktop(language: impl Into<String>) -> Self {
        BrowserOptions { language: language.into(), width: 1280, height: 900, mobile: false }
    }
}

/// A headless Chromium with a fresh profile, driven through its own chromedriver.
///
/// `quit` ends the session, stops chromedriver and reports errors; dropping it does the same as
/// best it can, blocking the test for a moment.
pub struct Browser {
    driver: Client,
    /// chromedriver's address, `http://127.0.0.1:PORT`.
    server_url: String,
    /// The WebDriver session's id, for ending it from `Drop`.
    session_id: String,
    /// Whether `quit` has ended the session, so that `Drop` does not end it again.
    session_ended: bool,
    chromedriver: Child,
    options: BrowserOptions,
    wait_bound: Duration,
    /// Holds Chromium's profile and chromedriver's log; removed after Chromium has exited.
    directory: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port of 127.0.0.1, opens a session with a fresh profile and
    /// emulates the device `options` describe.
    ///
    /// Chromium is `BALAGH_CHROMIUM` or `/usr/bin/chromium`; chromedriver is `BALAGH_CHROMEDRIVER`
    /// or `/usr/bin/chromedriver`.
    pub async fn start(options: BrowserOptions) -> Result<Browser> {
        let directory = tempfile::Builder::new().prefix("balagh-browser").tempdir().context("create a browser profile directory")?;
        let user_data_dir = user_data_dir(&directory);
        let log_path = directory.path().join("chromedriver.log");
        let port = free_port()?;
        let chromedriver_path = program("BALAGH_CHROMEDRIVER", "/usr/bin/chromedriver");
        let mut chromedriver = Command::new(&chromedriver_path)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log_path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", chromedriver_path.display()))?;
        let server_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&server_url, &mut chromedriver, &log_path).await?;

        // Plain HTTP: chromedriver listens on 127.0.0.1 only, so no TLS stack is needed.
        let connect = ClientBuilder::new(HttpConnector::new()).capabilities(capabilities(&options, &user_data_dir)).connect(&server_url).await;
        let driver = match connect {
            Ok(driver) => driver,
            Err(error) => return Err(anyhow::Error::new(error).context(format!("open a browser session{}", log_tail(&log_path)))),
        };
        let Some(session_id) = driver.session_creation_response().map(|response| response.session_id().to_owned()) else {
            bail!("chromedriver opened a session without an id{}", log_tail(&log_path));
        };
        let browser = Browser { driver, server_url, session_id, session_ended: false, chromedriver, options, wait_bound: WAIT_BOUND, directory };
        browser.emulate_device().await?;
        Ok(browser)
    }

    /// Quits the session (closing Chromium), stops chromedriver and removes the profile.
    pub async fn quit(mut self) -> Result<()> {
        // Closing a clone ends the shared session (chromedriver answers once Chromium has been
        // told to close); `Drop` then does not end it again.
        let quit = self.driver.clone().close().await.context("quit the browser session");
        self.session_ended = quit.is_ok();
        // Already gone is fine: the session is what mattered.
        let _ = self.chromedriver.kill().await;
        let user_data_dir = user_data_dir(&self.directory);
        let mut backoff = Backoff::new(EXIT_BOUND);
        while !chromium_processes(&user_data_dir).is_empty() && backoff.next().await {}
        // `Drop` kills what is left and removes the profile.
        quit
    }

    /// The options the browser was started with.
    pub fn options(&self) -> &BrowserOptions {
        &self.options
    }

    /// The underlying WebDriver session, for what the helpers do not cover.
    pub fn driver(&self) -> &Client {
        &self.driver
    }

    /// Changes how long helpers wait before they fail (`WAIT_BOUND` at start).
    pub fn set_wait_bound(&mut self, bound: Duration) {
        self.wait_bound = bound;
    }

    /// Sends a Chrome DevTools Protocol command to the current tab and returns its result.
    pub async fn cdp(&self, method: &str, params: Value) -> Result<Value> {
        let command = DevToolsCommand { method: method.to_owned(), params };
        self.driver.issue_cmd(command).await.with_context(|| format!("devtools command {method}"))
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.driver.goto(url).await.with_context(|| format!("open {url}"))
    }

    /// The first element matching `css`, once there is one.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.with_element(css, "find", |element| async move { Ok(element) }).await
    }

    /// Waits until an element matching `css` is present and displayed.
    pub async fn wait_for(&self, css: &str) -> Result<()> {
        let mut backoff = Backoff::new(self.wait_bound);
        loop {
            let displayed = match self.driver.find(Locator::Css(css)).await {
                Ok(element) => element.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            };
            if displayed {
                return Ok(());
            }
            if !backoff.next().await {
                bail!("no displayed element matches {css:?} after {:?}", self.wait_bound);
            }
        }
    }

    /// Waits until the text of the element matching `css` contains `needle`, and returns the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> Result<String> {
        let mut backoff = Backoff::new(self.wait_bound);
        let mut last_seen = None;
        loop {
            if let Ok(element) = self.driver.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(needle) {
                    return Ok(text);
                }
                last_seen = Some(text);
            }
            if !backoff.next().await {
                match last_seen {
                    Some(text) => bail!("{css:?} did not contain {needle:?} after {:?}; its text was {text:?}", self.wait_bound),
                    None => bail!("no element matches {css:?} after {:?} (waiting for the text {needle:?})", self.wait_bound),
                }
            }
        }
    }

    /// Waits until the JavaScript expression `condition` is true in the page (a promise counts by
    /// what it resolves to).
    pub async fn wait_until(&self, condition: &str) -> Result<()> {
        let script = format!("return Promise.resolve({condition}).then(Boolean);");
        let mut backoff = Backoff::new(self.wait_bound);
        loop {
            let last_error = match self.execute(&script, Vec::new()).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(_) => None,
                Err(error) => Some(error),
            };
            if !backoff.next().await {
                match last_error {
                    Some(error) => return Err(error.context(format!("{condition:?} did not become true after {:?}", self.wait_bound))),
                    None => bail!("{condition:?} did not become true after {:?}", self.wait_bound),
                }
            }
        }
    }

    /// Replaces the value of the input or textarea matching `css` with `text`, typed as a person would.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        self.with_element(css, "fill", |element| async move {
            element.clear().await?;
            element.send_keys(text).await
        })
        .await
    }

    /// Selects the option whose value is `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        let option = format!("option[value=\"{}\"]", css_string(value));
        let option = option.as_str();
        self.with_element(css, "select in", |element| async move {
            let option = element.find(Locator::Css(option)).await?;
            if !option.is_selected().await? {
                option.click().await?;
            }
            Ok(())
        })
        .await
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.with_element(css, "click", |element| async move { element.click().await }).await
    }

    /// Ticks the checkbox or radio button matching `css` unless it already is.
    pub async fn check(&self, css: &str) -> Result<()> {
        self.with_element(css, "check", |element| async move {
            if !element.is_selected().await? {
                element.click().await?;
            }
            Ok(())
        })
        .await
    }

    /// Chooses the file at `path` in the `input[type=file]` matching `css`.
    pub async fn attach(&self, css: &str, path: &Path) -> Result<()> {
        let path = std::fs::canonicalize(path).with_context(|| format!("find {} to attach", path.display()))?;
        let path = path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))?;
        self.with_element(css, "attach a file to", |element| async move { element.send_keys(path).await }).await
    }

    /// The rendered text of the element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String> {
        self.with_element(css, "read the text of", |element| async move { element.text().await }).await
    }

    /// The attribute `name` of the element matching `css`, if it has one.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        self.with_element(css, "read an attribute of", |element| async move { element.attr(name).await }).await
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> Result<String> {
        Ok(self.driver.current_url().await.context("read the current address")?.to_string())
    }

    /// The current page's HTML as the browser now has it.
    pub async fn page_source(&self) -> Result<String> {
        self.driver.source().await.context("read the page source")
    }

    /// Runs the function body `js` in the page with `args` (as `arguments`) and returns what it returns.
    pub async fn execute(&self, js: &str, args: Vec<Value>) -> Result<Value> {
        self.driver.execute(js, args).await.with_context(|| format!("run script {js:?}"))
    }

    /// Writes a PNG of the whole page, as wide as the emulated viewport, to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await?;
        let content_height = metrics["cssContentSize"]["height"].as_f64().context("layout metrics without cssContentSize.height")?;
        let clip = json!({ "x": 0, "y": 0, "width": self.options.width, "height": content_height.ceil(), "scale": 1 });
        let shot = self.cdp("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true, "clip": clip })).await?;
        let data = shot["data"].as_str().context("screenshot without data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data).context("decode the screenshot")?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.with_context(|| format!("create {}", parent.display()))?;
        }
        tokio::fs::write(path, png).await.with_context(|| format!("write {}", path.display()))
    }

    /// Cuts the page off the network (or reconnects it). The page sees `navigator.onLine` change
    /// and gets the `offline` or `online` event.
    pub async fn set_offline(&self, offline: bool) -> Result<()> {
        self.cdp("Network.enable", json!({})).await?;
        self.cdp("Network.emulateNetworkConditions", json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 })).await?;
        Ok(())
    }

    /// Makes the CSS viewport exactly as wide and high as the options say.
    async fn emulate_device(&self) -> Result<()> {
        let BrowserOptions { width, height, mobile, .. } = self.options;
        self.cdp("Emulation.setDeviceMetricsOverride", json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile })).await?;
        if mobile {
            self.cdp("Emulation.setTouchEmulationEnabled", json!({ "enabled": true, "maxTouchPoints": 5 })).await?;
        }
        Ok(())
    }

    /// Finds the element matching `css` and does `action` with it, trying again while the page is
    /// not ready for it (no such element yet, replaced, covered or not yet interactable).
    async fn with_element<T, F, Fut>(&self, css: &str, what: &str, action: F) -> Result<T>
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<T, CmdError>>,
    {
        let mut backoff = Backoff::new(self.wait_bound);
        loop {
            let error = match self.driver.find(Locator::Css(css)).await {
                Ok(element) => match action(element).await {
                    Ok(value) => return Ok(value),
                    Err(error) => error,
                },
                Err(error) => error,
            };
            let not_ready = matches!(
                &error,
                CmdError::Standard(webdriver_error) if matches!(
                    webdriver_error.error,
                    ErrorStatus::NoSuchElement
                        | ErrorStatus::StaleElementReference
                        | ErrorStatus::ElementNotInteractable
                        | ErrorStatus::ElementClickIntercepted
                )
            );
            if !not_ready {
                return Err(anyhow::Error::new(error).context(format!("{what} {css:?}")));
            }
            if !backoff.next().await {
                return Err(anyhow::Error::new(error).context(format!("{what} {css:?}: still not possible after {:?}", self.wait_bound)));
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // fantoccini's own fallback (its session task ends the session once the last client is
        // gone) cannot be relied on: it starts only after this body, when `self.driver` is
        // dropped, on the test's runtime, which may be about to end with the test and never run
        // it. If it does run, chromedriver is gone by then and its attempt fails quietly.
        if !self.session_ended {
            let session_url = format!("{}/session/{}", self.server_url, self.session_id);
            // Drop cannot await: a thread with its own runtime and connection ends the session,
            // which closes Chromium before chromedriver is killed (Chromium outlives a killed
            // chromedriver).
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                runtime.block_on(async move {
                    let _ = reqwest::Client::new().delete(session_url).timeout(Duration::from_secs(10)).send().await;
                });
            })
            .join();
        }
        let _ = self.chromedriver.start_kill();
        // Chromium's processes write to the profile for a moment after the session has ended;
        // removing it before they exit would leave a half-written directory behind.
        let user_data_dir = user_data_dir(&self.directory);
        let deadline = Instant::now() + EXIT_BOUND;
        while !chromium_processes(&user_data_dir).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stragglers = chromium_processes(&user_data_dir);
        if !stragglers.is_empty() {
            let _ = std::process::Command::new("kill").arg("-KILL").args(stragglers.iter().map(u32::to_string)).status();
        }
    }
}

/// Pauses between polls, growing from 10 ms to `LONGEST_PAUSE`, until `bound` has passed.
struct Backoff {
    deadline: Instant,
    pause: Duration,
}

impl Backoff {
    fn new(bound: Duration) -> Self {
        Backoff { deadline: Instant::now() + bound, pause: Duration::from_millis(10) }
    }

    /// Sleeps before the next attempt; false once the bound has passed.
    async fn next(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause.min(self.deadline - now)).await;
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        true
    }
}

/// The program named by the environment variable `variable`, or `default`.
fn program(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).filter(|value| !value.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

/// Where Chromium keeps the profile inside the browser's directory.
fn user_data_dir(directory: &tempfile::TempDir) -> PathBuf {
    directory.path().join("profile")
}

/// The ids of the processes running with `user_data_dir` as their profile: the Chromium this
/// browser started (each of its processes carries the flag), and never another test's.
fn chromium_processes(user_data_dir: &Path) -> Vec<u32> {
    let flag = format!("--user-data-dir={}", user_data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| {
            let id: u32 = entry.file_name().to_str()?.parse().ok()?;
            let command_line = std::fs::read(entry.path().join("cmdline")).ok()?;
            command_line.split(|byte| *byte == 0).any(|argument| argument == flag.as_bytes()).then_some(id)
        })
        .collect()
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr().context("read the free port")?.port())
}

/// Polls chromedriver's `/status` until it says it is ready.
async fn wait_until_ready(server_url: &str, chromedriver: &mut Child, log_path: &Path) -> Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().context("build an HTTP client")?;
    let status_url = format!("{server_url}/status");
    let mut backoff = Backoff::new(START_BOUND);
    loop {
        if let Some(exit) = chromedriver.try_wait().context("check on chromedriver")? {
            bail!("chromedriver exited before it was ready ({exit}){}", log_tail(log_path));
        }
        if let Ok(response) = client.get(&status_url).send().await
            && let Ok(status) = response.json::<Value>().await
            && status["value"]["ready"] == Value::Bool(true)
        {
            return Ok(());
        }
        if !backoff.next().await {
            bail!("chromedriver was not ready after {START_BOUND:?}{}", log_tail(log_path));
        }
    }
}

/// The last lines of chromedriver's log, to explain a failure.
fn log_tail(log_path: &Path) -> String {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if tail.is_empty() { String::new() } else { format!("; chromedriver's log ends with:\n{tail}") }
}

/// Headless Chromium in `user_data_dir`, speaking only `options.language`.
fn capabilities(options: &BrowserOptions, user_data_dir: &Path) -> Capabilities {
    let fixed = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1"];
    let mut arguments: Vec<String> = fixed.into_iter().map(String::from).collect();
    arguments.push(format!("--lang={}", options.language));
    arguments.push(format!("--window-size={},{}", options.width, options.height));
    arguments.push(format!("--user-data-dir={}", user_data_dir.display()));
    let chrome_options = json!({
        "binary": program("BALAGH_CHROMIUM", "/usr/bin/chromium").to_string_lossy(),
        "args": arguments,
        "prefs": { "intl.accept_languages": options.language },
    });
    Capabilities::from_iter([("browserName".to_owned(), json!("chrome")), ("goog:chromeOptions".to_owned(), chrome_options)])
}

/// `text` as the inside of a double-quoted CSS string.
fn css_string(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '"' | '\\' => format!("\\{character}"),
            character if character.is_control() => format!("\\{:x} ", u32::from(character)),
            character => character.to_string(),
        })
        .collect()
}

/// The error `Url::join` fails with (`url::ParseError`, named through reqwest's `Url`).
type UrlParseError = <Url as std::str::FromStr>::Err;

/// A Chrome DevTools Protocol command, sent through chromedriver's
/// `POST /session/{id}/goog/cdp/execute`, whose answer's `value` is the command's result.
#[derive(Debug)]
struct DevToolsCommand {
    method: String,
    params: Value,
}

impl WebDriverCompatibleCommand for DevToolsCommand {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, UrlParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "cmd": self.method, "params": self.params }).to_string()))
    }
}
