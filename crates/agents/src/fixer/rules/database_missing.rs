//! The app connects to a database that does not exist in the running service
//! (`FATAL:  database "shop_dev" does not exist`, MySQL's `Unknown database 'shop'`): the DB
//! agent creates the database the app's URL names, but an app may name another in its own
//! config. Fix: create it.

use super::{Context, Diagnosis, Rule, between};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;

pub struct DatabaseMissing;

impl Rule for DatabaseMissing {
    fn id(&self) -> &'static str {
        "db.database-missing"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        if !matches!(cx.failure.step, StepKind::Migrate | StepKind::Start | StepKind::Health) {
            return None;
        }
        let (service, name) = cx.lines().rev().find_map(|l| {
            if l.contains("does not exist") {
                let name = between(l, "database \"", '"')?;
                return Some(("postgres", name.to_owned()));
            }
            if l.contains("Unknown database") {
                let name = between(l, "Unknown database '", '\'')?;
                return Some(("mysql", name.to_owned()));
            }
            None
        })?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        Some(
            Diagnosis::new(
                self.id(),
                vec![("service", service.to_owned()), ("database", name.clone())],
                format!("database {name} does not exist"),
            )
            .with(FixAction::CreateDatabase { service: service.to_owned(), name }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    fn diagnose(log: &str) -> Option<Diagnosis> {
        let f = failure(Stage::Db, StepKind::Migrate, &["npx", "knex", "migrate:latest"], log);
        DatabaseMissing.diagnose(&Context::bare(&f, std::path::Path::new("/x")))
    }

    #[test]
    fn postgres_and_mysql() {
        let pg = "error: database \"shop_dev\" does not exist\n    at Parser.parseErrorMessage";
        assert_eq!(
            diagnose(pg).unwrap().candidates,
            [FixAction::CreateDatabase { service: "postgres".into(), name: "shop_dev".into() }]
        );
        let my = "sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (1049, \"Unknown database 'shop'\")";
        assert_eq!(diagnose(my).unwrap().signal.keys[1], ("database", "shop".to_owned()));
    }

    #[test]
    fn relations_and_odd_names_are_not_databases() {
        assert!(diagnose("ERROR:  relation \"users\" does not exist").is_none());
        assert!(diagnose("database \"a; drop\" does not exist").is_none());
    }
}
