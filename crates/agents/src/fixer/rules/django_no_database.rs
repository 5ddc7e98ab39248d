//! A Django app that configures no database fails `manage.py migrate` with
//! "settings.DATABASES is improperly configured": it does not need the step. Fix: skip it.

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;

pub struct DjangoNoDatabase;

impl Rule for DjangoNoDatabase {
    fn id(&self) -> &'static str {
        "django.no-database"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if f.step != StepKind::Migrate || !cx.mentions("settings.DATABASES is improperly configured") {
            return None;
        }
        Some(
            Diagnosis::new(
                self.id(),
                Vec::new(),
                "the Django app configures no database, so it has nothing to migrate",
            )
            .with(FixAction::SkipStep { project: f.project.clone(), step: StepKind::Migrate }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    #[test]
    fn migrate_without_databases_is_skipped() {
        let log = "  File \"/app/.venv/lib/python3.11/site-packages/django/db/backends/dummy/base.py\", line 20, in \
                   complain\n    raise ImproperlyConfigured(\ndjango.core.exceptions.ImproperlyConfigured: \
                   settings.DATABASES is improperly configured. Please supply the ENGINE value. Check settings \
                   documentation for more details.";
        let f = failure(Stage::Db, StepKind::Migrate, &["python", "manage.py", "migrate"], log);
        let d = DjangoNoDatabase.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        assert_eq!(d.candidates, [FixAction::SkipStep { project: ".".into(), step: StepKind::Migrate }]);
    }

    #[test]
    fn other_migration_failures_are_not_skipped() {
        let log = "django.db.utils.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed";
        let f = failure(Stage::Db, StepKind::Migrate, &["python", "manage.py", "migrate"], log);
        assert!(DjangoNoDatabase.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).is_none());
        let f = failure(Stage::Health, StepKind::Health, &["python"], "settings.DATABASES is improperly configured");
        assert!(DjangoNoDatabase.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).is_none());
    }
}
