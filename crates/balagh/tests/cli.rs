//! The binary as a newcomer and a script use it: serve on an embedded database with no
//! configuration, keys printed alone on the last line, the catalogue round trip, settings errors,
//! and reports that survive the process being killed.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
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
