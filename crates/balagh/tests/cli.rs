//! The binary as a newcomer and a script use it: serve on an embedded database with no
//! configuration, keys printed alone on the last line, the catalogue round trip, settings errors,
//! reports that survive the process being killed, deployment SLA files, and escalations fired
//! once from the command line.

use balagh_app::sla::{DEFAULT_CALENDARS, DEFAULT_CHAINS, DEFAULT_POLICIES};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn balagh(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_balagh"));
    command.current_dir(dir).env_remove("BALAGH_DATABASE_URL").env_remove("BALAGH_CONFIG").env("BALAGH_LOG", "warn");
    // These tests exercise the embedded default; PostgreSQL is covered by the server tests.
    command.env_remove("BALAGH_TEST_DATABASE_URL");
    command
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let output = balagh(dir).args(args).output().expect("run balagh");
    assert!(output.status.success(), "balagh {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// A server started on port 0; killed when dropped. Its output is drained by a thread, as a
/// terminal would read it.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, extra: &[&str]) -> Server {
    let mut child =
        balagh(dir).args(["serve", "--listen", "127.0.0.1:0"]).args(extra).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start server");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("first line");
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = first.split_whitespace().find(|w| w.starts_with("http://")).expect("the server prints its URL").to_owned();
    Server { child, base }
}

#[tokio::test]
async fn serve_with_no_configuration_uses_an_embedded_database_and_keeps_acknowledged_reports_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let ticket = {
        let server = start(dir.path(), &[]);
        assert!(dir.path().join("balagh-data/balagh.db").exists(), "SQLite database under ./balagh-data");
        let ready = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let services: Value = client.get(format!("{}/open311/v2/services.json", server.base)).send().await.unwrap().json().await.unwrap();
        assert!(services.as_array().unwrap().len() >= 25, "default catalogue loaded on first start");
        let body = json!({"service_code": "graffiti", "description": "كتابة على الجدار", "lat": 26.3, "long": 50.2, "phone": "0512345678"});
        let created = client.post(format!("{}/api/v1/reports", server.base)).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201);
        created.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned()
        // The server is killed here (SIGKILL), with no chance to flush anything.
    };
    let server = start(dir.path(), &[]);
    let read = client.get(format!("{}/api/v1/reports/{ticket}", server.base)).send().await.unwrap();
    assert_eq!(read.status(), 200, "an acknowledged report survives a kill");
}

#[test]
fn api_key_create_prints_the_key_alone_on_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_ok(dir.path(), &["admin", "api-key", "create", "fixmystreet"]);
    let last = output.lines().last().unwrap();
    assert!(last.starts_with("blg_") && !last.contains(' '), "{output}");
    let listed = run_ok(dir.path(), &["admin", "api-key", "list"]);
    assert!(listed.contains("fixmystreet\tintegration") && !listed.contains(last), "{listed}");
    let again = balagh(dir.path()).args(["admin", "api-key", "create", "fixmystreet"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    run_ok(dir.path(), &["admin", "api-key", "revoke", "fixmystreet"]);
    assert!(run_ok(dir.path(), &["admin", "api-key", "list"]).contains("revoked"));
}

#[test]
fn the_catalogue_exports_imports_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let exported = run_ok(dir.path(), &["catalogue", "export"]);
    let catalogue = balagh_domain::Catalogue::from_toml(&exported).expect("export is a valid catalogue");
    assert!(catalogue.services.len() >= 25);
    let file = dir.path().join("smaller.toml");
    let broken = exported.replacen("version = 1", "version = 1\ncolour = \"red\"", 1);
    assert_ne!(broken, exported);
    std::fs::write(&file, broken).unwrap();
    let refused = balagh(dir.path()).args(["catalogue", "import", file.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("colour"), "{}", String::from_utf8_lossy(&refused.stderr));
    std::fs::write(&file, &exported).unwrap();
    assert!(run_ok(dir.path(), &["catalogue", "import", file.to_str().unwrap()]).contains("imported"));
}

#[test]
fn an_unknown_setting_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = balagh(dir.path()).args(["migrate"]).env("BALAGH_LISTN", "x").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BALAGH_LISTN"));
    std::fs::write(dir.path().join("balagh.toml"), "colour = 1\n").unwrap();
    let output = balagh(dir.path()).args(["--config", "balagh.toml", "migrate"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("colour"));
}

#[test]
fn demo_fills_the_store_with_realistic_reports() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_ok(dir.path(), &["demo", "--reports", "500", "--seed", "7"]);
    assert!(output.contains("created 500 demo reports"), "{output}");
}

/// The instant the open reports of the escalation tests are due at: a Sunday morning in Riyadh.
const DUE_AT: &str = "2026-03-15T06:30:00Z";

fn run_err(command: &mut Command) -> String {
    let output = command.output().expect("run balagh");
    assert!(!output.status.success(), "balagh should have refused to start: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Starts `serve` and expects it to stop before serving: its standard output ends without the
/// banner. Returns its standard error.
fn serve_refused(command: &mut Command) -> String {
    let mut child = command.args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start server");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("read stdout");
    if !first.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve started despite a bad SLA file: {first}");
    }
    let status = child.wait().expect("wait for serve");
    assert!(!status.success());
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    stderr
}

#[test]
fn a_bad_sla_file_stops_serve_and_escalations_at_start_naming_the_setting_the_file_and_the_problem() {
    // (setting, file content, what the message must say)
    let cases = [
        (
            "escalation_chains_file",
            format!(
                "{DEFAULT_CHAINS}\n[[chains]]\nname = \"night desk\"\ndepartment = \"roads\"\npriority = \"low\"\nreminder_interval_hours = 7\nlevels = []\n"
            ),
            "escalation chain 'night desk': a chain needs at least one level",
        ),
        (
            "escalation_chains_file",
            DEFAULT_CHAINS.replacen("targets = [\"mayors_office\"]", "targets = [\"night_watchman\"]", 1),
            "escalation chain 'default': level 4: unknown target 'night_watchman'",
        ),
        (
            "calendars_file",
            DEFAULT_CALENDARS.replacen("working_hours = [\"07:30-14:30\"]", "working_hours = [\"07:30-12:00\", \"11:00-14:30\"]", 1),
            "overlaps",
        ),
        ("sla_policies_file", DEFAULT_POLICIES.replacen("resolution_minutes = 2100", "resolution_minutes = -60", 1), "targets must be positive minutes"),
    ];
    for (setting, content, problem) in cases {
        assert!(!content.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{setting}.toml"));
        std::fs::write(&file, &content).unwrap();
        let path = file.to_str().unwrap();
        let expected = format!("invalid {setting} {path}");
        // Through the environment, at `serve`.
        let variable = format!("BALAGH_{}", setting.to_ascii_uppercase());
        let stderr = serve_refused(balagh(dir.path()).env(&variable, path));
        assert!(stderr.contains(&expected) && stderr.contains(problem), "serve with {variable}: {stderr}");
        // Through the config file, at `escalations run-once`.
        std::fs::write(dir.path().join("balagh.toml"), format!("{setting} = {path:?}\n")).unwrap();
        let stderr = run_err(balagh(dir.path()).args(["--config", "balagh.toml", "escalations", "run-once"]));
        assert!(stderr.contains(&expected) && stderr.contains(problem), "run-once with {setting} in the config file: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let stderr = run_err(balagh(dir.path()).args(["escalations", "run-once"]).env("BALAGH_SLA_POLICIES_FILE", "missing.toml"));
    assert!(stderr.contains("cannot read sla_policies_file missing.toml"), "{stderr}");
}

/// Reads the stored escalations of the SQLite database in `dir`.
async fn stored_escalations(dir: &Path) -> Vec<balagh_app::StoredEscalation> {
    let url = format!("sqlite://{}", dir.join("balagh-data/balagh.db").display());
    let store = balagh_store::Store::connect(&url, balagh_store::PoolOptions::default()).await.unwrap();
    let escalations = store.db.escalations(&balagh_store::EscalationFilter { limit: 1_000, ..Default::default() }).await.unwrap();
    store.db.close().await;
    escalations
}

#[tokio::test]
async fn escalations_run_once_fires_what_is_due_at_the_instant_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = run_ok(dir.path(), &["demo", "--open-reports", "200", "--due", "10", "--due-at", DUE_AT, "--seed", "3"]);
    assert!(loaded.contains("created 200 open reports") && loaded.contains(&format!("due at {DUE_AT}: 10")), "{loaded}");
    assert_eq!(run_ok(dir.path(), &["escalations", "next"]).trim(), DUE_AT);
    let early = run_ok(dir.path(), &["escalations", "run-once", "--at", "2026-03-15T06:29:59Z"]);
    assert!(early.starts_with("fired 0 escalations in "), "{early}");

    let fired = run_ok(dir.path(), &["escalations", "run-once", "--at", DUE_AT]);
    assert!(fired.starts_with("fired 10 escalations in ") && fired.trim_end().ends_with(" ms"), "{fired}");
    let again = run_ok(dir.path(), &["escalations", "run-once", "--at", DUE_AT]);
    assert!(again.starts_with("fired 0 escalations in "), "exactly once: {again}");
    let next: jiff::Timestamp = run_ok(dir.path(), &["escalations", "next"]).trim().parse().expect("an instant");
    assert!(next > DUE_AT.parse().unwrap());

    // Each report climbed the first level of its own chain, once.
    let escalations = stored_escalations(dir.path()).await;
    let reports: std::collections::BTreeSet<i64> = escalations.iter().map(|e| e.report_id.0).collect();
    assert_eq!(reports.len(), 10, "{escalations:?}");
    assert!(escalations.iter().all(|e| (e.round, e.step, e.level) == (0, 0, 1) && e.fired_at == DUE_AT.parse().unwrap()), "{escalations:?}");
}

#[tokio::test]
async fn a_deployment_escalation_chain_file_is_the_one_the_worker_climbs() {
    let dir = tempfile::tempdir().unwrap();
    let chains = "follow_up_idle_hours = 14\n\n[[chains]]\nname = \"night desk first\"\nreminder_interval_hours = 7\nlevels = [\n  \
                  { trigger = \"immediately\", targets = [\"user:night-desk\"], actions = [\"notify\"] },\n  \
                  { trigger = \"breach\", targets = [\"department_manager\"], actions = [\"notify\"] },\n]\n";
    std::fs::write(dir.path().join("chains.toml"), chains).unwrap();
    std::fs::write(dir.path().join("balagh.toml"), "escalation_chains_file = \"chains.toml\"\n").unwrap();
    let with_config = |args: &[&str]| {
        let output = balagh(dir.path()).args(["--config", "balagh.toml"]).args(args).output().unwrap();
        assert!(output.status.success(), "balagh {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    with_config(&["demo", "--open-reports", "20", "--due", "20", "--due-at", DUE_AT]);
    assert!(with_config(&["escalations", "run-once", "--at", DUE_AT]).starts_with("fired 20 escalations"));
    let escalations = stored_escalations(dir.path()).await;
    assert_eq!(escalations.len(), 20);
    assert!(escalations.iter().all(|e| e.target == "user:night-desk"), "{escalations:?}");
}

#[test]
fn serve_runs_the_escalation_worker_and_stops_it_with_the_server_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = balagh(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("BALAGH_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("banner");
    assert!(banner.contains("serving on"), "{banner}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
    assert!(killed.success());
    let status = child.wait().expect("wait for serve");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status:?}\n{stderr}");
    let worker = stderr.find("escalation worker running").expect("the start line says the worker runs");
    let stopped = stderr.find("escalation worker stopped").expect("the worker stops with the server");
    assert!(worker < stopped && stderr.contains("Balagh stopped"), "{stderr}");
    let dispatcher = stderr.find("notification dispatcher running").expect("the dispatcher runs beside the worker");
    let dispatcher_stopped = stderr.find("notification dispatcher stopped").expect("the dispatcher stops with the server");
    assert!(dispatcher < dispatcher_stopped && stderr.contains("balagh-data/outbox"), "{stderr}");
}

#[test]
fn an_idle_worker_bench_counts_its_passes() {
    let dir = tempfile::tempdir().unwrap();
    // With no time to wait, the worker makes its first pass and stops.
    let output = run_ok(dir.path(), &["bench", "idle-worker", "--seconds", "0"]);
    assert!(output.contains(", 1 passes, process CPU time "), "{output}");
    assert!(output.contains("next escalation due at the start: nothing due"), "{output}");
}

#[test]
fn demo_needs_something_to_create_and_no_more_due_reports_than_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run_err(balagh(dir.path()).args(["demo"])).contains("--open-reports"));
    assert!(run_err(balagh(dir.path()).args(["demo", "--open-reports", "5", "--due", "6"])).contains("cannot exceed"));
}

#[tokio::test]
async fn a_run_killed_with_sigkill_while_firing_leaves_every_step_to_the_next_run_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["demo", "--open-reports", "3000", "--due", "3000", "--due-at", DUE_AT, "--seed", "4"]);
    // The run logs each claimed batch of 500; it is killed as soon as the first claim is logged,
    // somewhere between that claim and the end of the run (six batches).
    let mut child = balagh(dir.path())
        .args(["escalations", "run-once", "--at", DUE_AT])
        .env("RUST_LOG", "balagh_app=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start balagh");
    let stderr = child.stderr.take().expect("stderr");
    let claimed = BufReader::new(stderr).lines().map_while(Result::ok).any(|line| line.contains("claimed due timers"));
    assert!(claimed, "the run claims a batch");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let escalated = |rows: &[balagh_app::StoredEscalation]| rows.iter().map(|e| e.report_id.0).collect::<std::collections::BTreeSet<i64>>().len();
    let by_the_killed_run = escalated(&stored_escalations_all(dir.path()).await);

    eprintln!("reports escalated by the killed run: {by_the_killed_run} of 3000");
    // Another run, once the dead run's leases have ended, fires exactly the rest.
    let later = (DUE_AT.parse::<jiff::Timestamp>().unwrap() + jiff::SignedDuration::from_secs(61)).to_string();
    let rest = run_ok(dir.path(), &["escalations", "run-once", "--at", &later]);
    assert!(rest.starts_with(&format!("fired {} escalations", 3000 - by_the_killed_run)), "{by_the_killed_run} fired before the kill; then {rest}");
    let escalations = stored_escalations_all(dir.path()).await;
    assert_eq!(escalated(&escalations), 3000, "every due report climbed its first level");
    assert!(escalations.iter().all(|e| (e.round, e.step) == (0, 0)), "one step each");
    let distinct: std::collections::BTreeSet<(i64, String)> = escalations.iter().map(|e| (e.report_id.0, e.target.clone())).collect();
    assert_eq!(distinct.len(), escalations.len(), "no step fired twice");
}

/// Every stored escalation of the SQLite database in `dir`, page by page.
async fn stored_escalations_all(dir: &Path) -> Vec<balagh_app::StoredEscalation> {
    let url = format!("sqlite://{}", dir.join("balagh-data/balagh.db").display());
    let store = balagh_store::Store::connect(&url, balagh_store::PoolOptions::default()).await.unwrap();
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let filter = balagh_store::EscalationFilter { limit: 1_000, before, ..Default::default() };
        let page = store.db.escalations(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        all.extend(page);
    }
    store.db.close().await;
    all
}

/// Starts `serve` with `BALAGH_LOG=info` and returns the start-up line that says which provider
/// takes each medium; the server is stopped at once.
fn providers_line(command: &mut Command) -> String {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("BALAGH_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let line = stderr.lines().map_while(Result::ok).find(|line| line.contains("notification dispatcher running"));
    let _ = child.kill();
    let _ = child.wait();
    line.expect("serve logs which provider takes each medium")
}

#[test]
fn serve_with_no_configuration_sends_every_medium_to_the_log_provider_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let line = providers_line(&mut balagh(dir.path()));
    assert!(line.contains("providers: sms=log call=log email=log whatsapp=log webhook=log staff=log"), "{line}");
    assert!(line.contains("dispatchers=2") && line.contains("balagh-data/outbox"), "{line}");
}

#[test]
fn serve_logs_the_configured_provider_of_each_medium() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("staff.toml"), "\"team_lead@roads\" = \"email:lead@roads.example.sa\"\n\"*\" = \"webhook:staff\"\n").unwrap();
    let config = "public_base_url = \"https://940.example.gov.sa\"\nstaff_directory_file = \"staff.toml\"\ndispatchers = 3\n\
                  smtp_host = \"127.0.0.1\"\nsmtp_port = 2525\nsmtp_security = \"none\"\nsmtp_from = \"Balagh 940 <noreply@balagh.example.sa>\"\n\
                  [webhooks.staff]\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"s3cret\"\n";
    std::fs::write(dir.path().join("balagh.toml"), config).unwrap();
    // Twilio from the environment: a number stays text, not a TOML integer.
    let line = providers_line(
        balagh(dir.path())
            .args(["--config", "balagh.toml"])
            .env("BALAGH_TWILIO_ACCOUNT_SID", "AC0123")
            .env("BALAGH_TWILIO_AUTH_TOKEN", "token")
            .env("BALAGH_TWILIO_FROM", "+966138000000")
            .env("BALAGH_TWILIO_BASE_URL", "http://127.0.0.1:9"),
    );
    assert!(line.contains("providers: sms=twilio-sms call=twilio-voice email=email whatsapp=log webhook=webhook staff=log"), "{line}");
    assert!(line.contains("dispatchers=3") && !line.contains("s3cret"), "{line}");
}

#[test]
fn serve_refuses_twilio_without_a_public_base_url_or_with_a_missing_token_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let twilio = |command: &mut Command| {
        command.env("BALAGH_TWILIO_ACCOUNT_SID", "AC0123").env("BALAGH_TWILIO_FROM", "+966138000000");
    };
    let mut partial = balagh(dir.path());
    twilio(&mut partial);
    let stderr = serve_refused(&mut partial);
    assert!(stderr.contains("incomplete Twilio settings") && stderr.contains("BALAGH_TWILIO_AUTH_TOKEN"), "{stderr}");
    let mut no_public_address = balagh(dir.path());
    twilio(&mut no_public_address);
    let stderr = serve_refused(no_public_address.env("BALAGH_TWILIO_AUTH_TOKEN", "token"));
    assert!(stderr.contains("public_base_url (BALAGH_PUBLIC_BASE_URL) is not set"), "{stderr}");
    assert!(!dir.path().join("balagh-data").exists(), "nothing is opened before the settings are checked");
}

#[test]
fn serve_refuses_a_staff_directory_entry_that_is_not_an_address_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("staff.toml"), "\"team_lead@roads\" = \"lead@roads.example.sa\"\n").unwrap();
    std::fs::write(dir.path().join("balagh.toml"), "staff_directory_file = \"staff.toml\"\n").unwrap();
    let stderr = serve_refused(balagh(dir.path()).args(["--config", "balagh.toml"]));
    assert!(stderr.contains("invalid staff_directory_file staff.toml: entry \"team_lead@roads\""), "{stderr}");
    assert!(stderr.contains("is not an address"), "{stderr}");
    // A webhook the directory names must be configured.
    std::fs::write(dir.path().join("staff.toml"), "\"*\" = \"webhook:staff\"\n").unwrap();
    let stderr = serve_refused(balagh(dir.path()).args(["--config", "balagh.toml"]));
    assert!(stderr.contains("entry \"*\"") && stderr.contains("no [webhooks.staff] is configured"), "{stderr}");
}
