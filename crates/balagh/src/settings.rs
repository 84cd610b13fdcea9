//! Settings: built-in defaults, then an optional TOML file, then `BALAGH_…` environment variables,
//! then command-line flags, each overriding the one before. An unknown key in the file or an unknown
//! `BALAGH_` variable is an error that names it. `Debug` never shows secrets.

use anyhow::{Context, bail};
use balagh_app::{AppError, SlaSettings};
use balagh_domain::Catalogue;
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
    /// The business calendars to use instead of the shipped `catalogue/calendar-eastern-province.toml`.
    pub calendars_file: Option<PathBuf>,
    /// The SLA policies to use instead of the shipped `catalogue/sla-policies.toml`.
    pub sla_policies_file: Option<PathBuf>,
    /// The escalation chains to use instead of the shipped `catalogue/escalation-chains.toml`.
    pub escalation_chains_file: Option<PathBuf>,
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
            calendars_file: None,
            sla_policies_file: None,
            escalation_chains_file: None,
        }
    }
}

/// Keys settable from the environment as `BALAGH_<KEY>` (upper case).
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "jurisdiction_id",
    "public_base_url",
    "max_body_bytes",
    "max_connections",
    "log",
    "calendars_file",
    "sla_policies_file",
    "escalation_chains_file",
];
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

    /// The business calendars, SLA policies and escalation chains in force: each from the file its
    /// setting names, or the shipped one when unset, checked against each other and `catalogue`.
    /// A file that cannot be read or is invalid is an error naming the setting, the file and the
    /// problem (the domain's message names the calendar, rule, chain or level at fault).
    pub fn sla_settings(&self, catalogue: &Catalogue) -> anyhow::Result<SlaSettings> {
        let files = [
            SlaFile { setting: "calendars_file", field: "calendars", what: "business calendars", path: self.calendars_file.as_deref() },
            SlaFile { setting: "sla_policies_file", field: "sla_policies", what: "SLA policies", path: self.sla_policies_file.as_deref() },
            SlaFile { setting: "escalation_chains_file", field: "escalation_chains", what: "escalation chains", path: self.escalation_chains_file.as_deref() },
        ];
        let shipped = [balagh_app::sla::DEFAULT_CALENDARS, balagh_app::sla::DEFAULT_POLICIES, balagh_app::sla::DEFAULT_CHAINS];
        let mut texts = Vec::with_capacity(files.len());
        for (file, shipped) in files.iter().zip(shipped) {
            texts.push(match file.path {
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {} {}", file.setting, path.display()))?,
                None => shipped.to_owned(),
            });
        }
        SlaSettings::from_toml(&texts[0], &texts[1], &texts[2], catalogue).map_err(|error| {
            let (field, problem) = match error {
                AppError::Invalid(field_error) => (field_error.field, field_error.message),
                other => (String::new(), other.to_string()),
            };
            match files.iter().find(|file| file.field == field) {
                Some(SlaFile { setting, path: Some(path), .. }) => anyhow::anyhow!("invalid {setting} {}: {problem}", path.display()),
                Some(SlaFile { setting, what, path: None, .. }) => {
                    anyhow::anyhow!("the shipped {what} (used because {setting} is not set) do not fit this catalogue or the other files: {problem}")
                }
                None => anyhow::anyhow!("invalid SLA settings: {problem}"),
            }
        })
    }
}

/// One of the SLA files: its setting, the field the application's errors name it by, and the
/// file the setting names, if any.
struct SlaFile<'a> {
    setting: &'static str,
    field: &'static str,
    what: &'static str,
    path: Option<&'a Path>,
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
            .field("calendars_file", &self.calendars_file)
            .field("sla_policies_file", &self.sla_policies_file)
            .field("escalation_chains_file", &self.escalation_chains_file)
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

    #[test]
    fn sla_files_come_from_the_file_or_the_environment_and_a_bad_one_names_its_setting_and_problem() {
        let catalogue = Catalogue::from_toml(include_str!("../../../catalogue/eastern-province.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (config, chains, broken) = (dir.path().join("balagh.toml"), dir.path().join("chains.toml"), dir.path().join("broken.toml"));
        std::fs::write(&chains, balagh_app::sla::DEFAULT_CHAINS.replace("follow_up_idle_hours = 14", "follow_up_idle_hours = 3")).unwrap();
        std::fs::write(&broken, balagh_app::sla::DEFAULT_CHAINS.replace("targets = [\"mayors_office\"]", "targets = [\"night_watchman\"]")).unwrap();
        std::fs::write(&config, format!("escalation_chains_file = {:?}\n", broken.display().to_string())).unwrap();

        let shipped = Settings::load(None, vars(&[])).unwrap().sla_settings(&catalogue).unwrap();
        assert_eq!(shipped.chains.follow_up_idle_minutes(), 14 * 60);
        let from_file = Settings::load(Some(&config), vars(&[])).unwrap();
        let error = format!("{:#}", from_file.sla_settings(&catalogue).unwrap_err());
        assert!(error.contains("invalid escalation_chains_file") && error.contains("broken.toml"), "{error}");
        assert!(error.contains("unknown target 'night_watchman'"), "{error}");
        let chains_env = chains.display().to_string();
        let from_env = Settings::load(Some(&config), vars(&[("BALAGH_ESCALATION_CHAINS_FILE", &chains_env)])).unwrap();
        assert_eq!(from_env.sla_settings(&catalogue).unwrap().chains.follow_up_idle_minutes(), 3 * 60, "the environment beats the file");

        let missing = Settings::load(None, vars(&[("BALAGH_CALENDARS_FILE", "/nonexistent/calendars.toml")])).unwrap();
        let error = format!("{:#}", missing.sla_settings(&catalogue).unwrap_err());
        assert!(error.contains("cannot read calendars_file /nonexistent/calendars.toml"), "{error}");
    }
}
