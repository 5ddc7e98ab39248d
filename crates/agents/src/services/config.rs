//! The `[services.<name>]` tables of `repo-run.toml`: a project's own choices for its services.
//!
//! ```toml
//! [services.postgres]
//! image = "postgis/postgis:16-3.4"
//! ```
//!
//! Other tables of the file (`[models]`, …) belong to other parts of repo-run and are left alone.
//! `REPO_RUN_<SERVICE>_IMAGE` still wins over the file: it exists because a machine cannot pull.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::plan::ServiceKind;

/// The file, at the repository root.
pub const FILE_NAME: &str = "repo-run.toml";

/// The project's service settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicesConfig {
    pub services: BTreeMap<ServiceKind, ServiceConfig>,
}

/// One `[services.<name>]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The image to run in place of the catalogue's.
    pub image: Option<String>,
}

/// `repo-run.toml` does not parse, or names an unknown service or key: names the file and key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    services: BTreeMap<String, toml::Value>,
}

impl ServicesConfig {
    /// The settings in `<root>/repo-run.toml`; empty when there is no file.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let path = root.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ConfigError { file: path.display().to_string(), message: e.to_string() }),
        }
    }

    /// Parses the text of the file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError { file: file.to_owned(), message };
        let raw: File = toml::from_str(text).map_err(|e| error(e.to_string().trim_end().to_owned()))?;
        let mut services = BTreeMap::new();
        for (name, value) in raw.services {
            let Some(kind) = ServiceKind::ALL.iter().copied().find(|k| k.as_str() == name) else {
                let known: Vec<&str> = ServiceKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(error(format!("[services.{name}]: unknown service (known: {})", known.join(", "))));
            };
            let config: ServiceConfig =
                value.try_into().map_err(|e: toml::de::Error| error(format!("[services.{name}]: {}", e.message())))?;
            if config.image.as_deref().is_some_and(|i| i.trim().is_empty()) {
                return Err(error(format!("[services.{name}] image: empty; name an image or remove the key")));
            }
            services.insert(kind, config);
        }
        Ok(ServicesConfig { services })
    }

    /// The image the project chose for `kind`, if any.
    pub fn image(&self, kind: ServiceKind) -> Option<&str> {
        self.services.get(&kind)?.image.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_per_service_and_other_tables_left_alone() {
        let text = "[models.fixer]\nmodel = \"x\"\n\n[services.postgres]\nimage = \"postgis/postgis:16\"\n\n[services.redis]\n";
        let config = ServicesConfig::parse("repo-run.toml", text).unwrap();
        assert_eq!(config.image(ServiceKind::Postgres), Some("postgis/postgis:16"));
        assert_eq!(config.image(ServiceKind::Redis), None);
        assert_eq!(config.image(ServiceKind::Mysql), None);
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let err = ServicesConfig::parse("/r/repo-run.toml", "[services.postgress]\nimage = \"x\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/r/repo-run.toml: [services.postgress]: unknown service"), "{text}");
        assert!(text.contains("postgres, mysql"), "{text}");

        let err = ServicesConfig::parse("repo-run.toml", "[services.postgres]\nimg = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("[services.postgres]") && err.to_string().contains("img"), "{err}");

        let err = ServicesConfig::parse("repo-run.toml", "[services.postgres]\nimage = 16\n").unwrap_err();
        assert!(err.to_string().contains("[services.postgres]"), "{err}");

        let err = ServicesConfig::parse("repo-run.toml", "[services.postgres]\nimage = \" \"\n").unwrap_err();
        assert!(err.to_string().contains("image: empty"), "{err}");

        let err = ServicesConfig::parse("repo-run.toml", "[services\n").unwrap_err();
        assert!(err.to_string().starts_with("repo-run.toml: "), "{err}");
    }

    #[test]
    fn a_missing_file_is_no_settings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ServicesConfig::load(dir.path()).unwrap(), ServicesConfig::default());
        std::fs::write(dir.path().join(FILE_NAME), "[services.redis]\nimage = \"valkey/valkey:8\"\n").unwrap();
        assert_eq!(ServicesConfig::load(dir.path()).unwrap().image(ServiceKind::Redis), Some("valkey/valkey:8"));
    }
}
