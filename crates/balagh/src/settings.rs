//! Settings: built-in defaults, then an optional TOML file, then `BALAGH_…` environment variables,
//! then command-line flags, each overriding the one before. An unknown key in the file or an unknown
//! `BALAGH_` variable is an error that names it. `Debug` never shows secrets.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where the embedded database (and later, media and outbox logs) live.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; by default an SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// The Open311 jurisdiction this server answers for.
    pub jurisdiction_id: Option<String>,
    /// How clients reach this server (for links and discovery); by default `http://{listen}`.
    pub public_base_url: Option<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Maximum database connections.
    pub max_connections: u32,
    /// Log filter, e.g. `info` or `balagh=debug,info`.
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8940)),
            data_dir: PathBuf::from("balagh-data"),
            database_url: None,
            jurisdiction_id: None,
            public_base_url: None,
            max_body_bytes: 64 * 1024,
            max_connections: 16,
            log: "info".into(),
        }
    }
}

/// Keys settable from the environment as `BALAGH_<KEY>` (upper case).
const KEYS: &[&str] = &["listen", "data_dir", "database_url", "jurisdiction_id", "public_base_url", "max_body_bytes", "max_connections", "log"];
/// `BALAGH_` variables that are not settings but are read elsewhere.
const OTHER_VARIABLES: &[&str] = &["BALAGH_CONFIG", "BALAGH_BENCH_API_KEY", "BALAGH_TEST_DATABASE_URL"];

impl Settings {
    /// Loads settings from `file` (if given) and the environment `vars`.
    pub fn load(file: Option<&Path>, vars: impl Iterator<Item = (String, String)>) -> anyhow::Result<Settings> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
                text.parse::<toml::Table>().with_context(|| format!("config file {} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        if let Some(unknown) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            bail!("unknown setting '{unknown}' in {}; known settings: {}", file.map(|p| p.display().to_string()).unwrap_or_default(), KEYS.join(", "));
        }
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("BALAGH_") else { continue };
            if OTHER_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let key = key.to_ascii_lowercase();
            if !KEYS.contains(&key.as_str()) {
                bail!(
                    "unknown environment variable {name}; known: {}",
                    KEYS.iter().map(|k| format!("BALAGH_{}", k.to_ascii_uppercase())).collect::<Vec<_>>().join(", ")
                );
            }
            table.insert(key, env_value(&value));
        }
        Settings::deserialize(toml::Value::Table(table)).map_err(|e| anyhow::anyhow!("invalid settings: {e}"))
    }

    /// The database to use: the configured URL, or an SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("balagh.db").display()))
    }

    pub fn public_base_url(&self) -> String {
        self.public_base_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }
}

/// An environment value as TOML would read it (numbers, booleans), else as a string.
fn env_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

/// A database URL with its password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("jurisdiction_id", &self.jurisdiction_id)
            .field("public_base_url", &self.public_base_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("log", &self.log)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("balagh.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 1000\njurisdiction_id = \"eastern\"\n").unwrap();
        let settings = Settings::load(Some(&file), vars(&[("BALAGH_MAX_BODY_BYTES", "2000"), ("PATH", "/bin")])).unwrap();
        assert_eq!(settings.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(settings.max_body_bytes, 2000);
        assert_eq!(settings.jurisdiction_id.as_deref(), Some("eastern"));
        assert_eq!(settings.database_url(), "sqlite://balagh-data/balagh.db");
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("balagh.toml");
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        let error = Settings::load(Some(&file), vars(&[])).unwrap_err().to_string();
        assert!(error.contains("unknown setting 'colour'"), "{error}");
        let error = Settings::load(None, vars(&[("BALAGH_LISTN", "1")])).unwrap_err().to_string();
        assert!(error.contains("BALAGH_LISTN"), "{error}");
        let error = Settings::load(None, vars(&[("BALAGH_LISTEN", "not an address")])).unwrap_err().to_string();
        assert!(error.contains("invalid settings"), "{error}");
    }

    #[test]
    fn debug_never_shows_the_database_password() {
        let settings = Settings::load(None, vars(&[("BALAGH_DATABASE_URL", "postgres://balagh:s3cret@db.example:5432/balagh")])).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://balagh:***@db.example:5432/balagh"), "{shown}");
    }
}
