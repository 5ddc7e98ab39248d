//! The DB agent end to end: real projects on disk, real detection, the real Docker engine,
//! real migration tools.
//!
//! Images: as in `tests/services.rs`, the official ones unless `REPO_RUN_<SERVICE>_IMAGE` names
//! a local one (`cargo xtask images` prints the lines to export). Every test removes what it
//! started by label, even when it fails ([`TestRepo`]'s Drop). Tests that need the process
//! environment changed (`DOCKER_HOST`, no image override) run in a child of this test binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use repo_run_agents::pipeline::{Blackboard, DetectionAgent, RequirementsAgent};
use repo_run_agents::plan::{EnvRequirement, EnvSource, ServiceKind};
use repo_run_agents::requirements::Host;
use repo_run_agents::services::{DbAgent, DownOptions, ProjectId, Services, env_vars};
use repo_run_agents::state::RunState;
use repo_run_agents::up::{PreparedProject, Reporter};
use repo_run_agents::{Agent, RepoView, Stage};

/// Docker tests run one at a time: they compete for the usual ports and for two CPU cores.
static DOCKER: Mutex<()> = Mutex::new(());

/// What the agent reported, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn step(&self, _: Stage, message: &str) {
        self.0.lock().unwrap().push(format!("step: {message}"));
    }
    fn output(&self, _: Stage, line: &str) {
        self.0.lock().unwrap().push(format!("output: {line}"));
    }
    fn note(&self, _: Stage, message: &str) {
        self.0.lock().unwrap().push(format!("note: {message}"));
    }
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn has(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

/// A repository in a temporary directory; its containers and volumes are removed on drop.
struct TestRepo {
    dir: tempfile::TempDir,
    id: ProjectId,
    _serial: Option<MutexGuard<'static, ()>>,
}

impl TestRepo {
    /// `files`: (path, text). `docker`: whether the test uses Docker (then it waits its turn).
    fn new(files: &[(&str, &str)], docker: bool) -> Self {
        let serial = docker.then(|| DOCKER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let dir = tempfile::Builder::new().prefix("repo-run-dbagent").tempdir().unwrap();
        for (path, text) in files {
            write(&dir.path().join(path), text);
        }
        let id = ProjectId::for_path(dir.path()).unwrap();
        TestRepo { dir, id, _serial: serial }
    }

    /// A copy of `tests/fixtures/<name>`, with `files` written over it.
    fn fixture(name: &str, files: &[(&str, &str)]) -> Self {
        let repo = TestRepo::new(&[], true);
        copy_dir(&fixtures().join(name), repo.root());
        for (path, text) in files {
            write(&repo.root().join(path), text);
        }
        repo
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A board after Detection, Requirements and (as the Setup agent would leave it) the root
    /// project's `.env` and tool directories.
    fn board(&self, path_prefix: Vec<PathBuf>, extra_env: BTreeMap<String, String>) -> (Blackboard, Arc<Recorder>) {
        let mut board = Blackboard::new(RepoView::open(self.root()).unwrap(), Host::default());
        let recorder = Arc::new(Recorder::default());
        board.reporter = recorder.clone();
        DetectionAgent.run(&mut board).unwrap();
        RequirementsAgent.run(&mut board).unwrap();
        board.prepared.push(PreparedProject {
            project: ".".into(),
            dir: self.root().to_path_buf(),
            dotenv: read_dotenv(&self.root().join(".env")),
            path_prefix,
            extra_env,
            installed: Vec::new(),
        });
        (board, recorder)
    }
}

impl Drop for TestRepo {
    fn drop(&mut self) {
        if self._serial.is_none() {
            return;
        }
        match Services::connect() {
            Ok(services) => {
                if let Err(e) = services.down(&self.id, DownOptions { remove_volumes: true }) {
                    eprintln!("cleaning up {}: {e}", self.id);
                }
            }
            Err(e) => eprintln!("cleaning up {}: {e}", self.id),
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `KEY=value` lines, as the Setup agent reads `.env` (enough for these tests).
fn read_dotenv(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect()
}

/// Runs SQL through the host's `psql` against `url`; stdout, or stderr on failure.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([url, "-X", "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql (the PostgreSQL client) is needed by this test: {e}"));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A `PATH` without the user's tool directories (`~/.cargo/bin`): the sqlx CLI is absent.
fn system_path() -> BTreeMap<String, String> {
    BTreeMap::from([("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned())])
}

#[test]
fn rust_sqlx_project_gets_its_database_state_and_migrations_without_the_sqlx_cli() {
    // The app names its database in `.env`. The fixture's main.rs runs `sqlx::migrate!()`
    // itself (then detection leaves migrations to it); this copy leaves them to `sqlx migrate
    // run`, as apps that migrate in CI or by hand do.
    let main_rs = std::fs::read_to_string(fixtures().join("rust-axum-postgres/src/main.rs"))
        .unwrap()
        .replace("    sqlx::migrate!().run(&pool).await?;\n", "");
    assert!(!main_rs.contains("migrate!"));
    let repo = TestRepo::fixture(
        "rust-axum-postgres",
        &[
            (".env", "DATABASE_URL=postgres://todo:secret@localhost:5432/todo_dev\nPORT=3000\n"),
            ("src/main.rs", main_rs.as_str()),
        ],
    );
    let (mut board, recorder) = repo.board(Vec::new(), system_path());
    // What Requirements marks for apps that read the parts (`POSTGRES_HOST`, `DB_PORT`, …).
    for name in ["POSTGRES_HOST", "DB_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATABASE"] {
        board.requirements.as_mut().unwrap().projects[0].env.push(EnvRequirement {
            name: name.into(),
            source: EnvSource::Service { service: ServiceKind::Postgres },
            evidence: Vec::new(),
        });
    }

    let started = Instant::now();
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}\nhint: {:?}\n{:#?}", e.hint, recorder.lines()));
    eprintln!("first up: {:.1} s\n{:#?}", started.elapsed().as_secs_f64(), recorder.lines());

    // The service, with the real host port and the database the app named.
    assert_eq!(board.services.len(), 1);
    let pg = &board.services[0];
    assert_eq!(pg.kind, ServiceKind::Postgres);
    assert_eq!(pg.container, repo.id.resource_name(ServiceKind::Postgres));
    assert_eq!(pg.url, format!("postgres://repo_run:repo_run@127.0.0.1:{}/todo_dev", pg.host_port));
    assert_eq!(psql(&pg.url, "SELECT current_database()").unwrap(), "todo_dev");
    assert!(recorder.has(&format!("step: postgres: starting {}", pg.container)), "{:#?}", recorder.lines());
    assert!(recorder.has(&format!("on 127.0.0.1:{}", pg.host_port)), "{:#?}", recorder.lines());

    // Recorded for `down` before anything else happens.
    let state = RunState::load(&board.workdir.state_file()).unwrap().expect("state.json written");
    assert_eq!(state.project_id, repo.id.as_str());
    assert_eq!(state.services.len(), 1);
    assert_eq!(state.services[0].container, pg.container);
    assert_eq!(state.services[0].host_port, pg.host_port);

    // The app's environment: the URL where a URL is read, the parts where parts are.
    let env = board.project_env(".");
    assert_eq!(env["DATABASE_URL"], pg.url);
    assert_eq!(env["POSTGRES_HOST"], "127.0.0.1");
    assert_eq!(env["DB_PORT"], pg.host_port.to_string());
    assert_eq!(env["POSTGRES_USER"], "repo_run");
    assert_eq!(env["POSTGRES_PASSWORD"], "repo_run");
    assert_eq!(env["POSTGRES_DB"], "todo_dev");
    assert_eq!(env["PGDATABASE"], "todo_dev");

    // sqlx's CLI is not on PATH: migrations/0001_init.sql was applied through psql and recorded
    // as sqlx records it, so the app's own `sqlx::migrate!()` will skip it.
    assert!(recorder.has("the sqlx CLI is not installed"), "{:#?}", recorder.lines());
    assert!(recorder.has("applied 0001_init.sql"), "{:#?}", recorder.lines());
    assert_eq!(psql(&pg.url, "SELECT count(*) FROM todos").unwrap(), "0");
    let recorded =
        psql(&pg.url, "SELECT version, description, success, encode(checksum, 'hex') FROM _sqlx_migrations").unwrap();
    let sha = Command::new("sha384sum").arg(repo.root().join("migrations/0001_init.sql")).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout).split_whitespace().next().unwrap().to_owned();
    assert_eq!(recorded, format!("1|init|t|{sha}"));
    let log = std::fs::read_to_string(board.workdir.log_file("migrate-todo-api")).unwrap();
    assert!(log.contains("applying 0001_init.sql"), "{log}");

    // A second `up`: the container is kept, the migration is not applied again.
    psql(&pg.url, "INSERT INTO todos (title) VALUES ('kept')").unwrap();
    let (mut again, recorder) = repo.board(Vec::new(), system_path());
    DbAgent.run(&mut again).unwrap_or_else(|e| panic!("{e}\n{:#?}", recorder.lines()));
    assert!(again.services[0].reused);
    assert_eq!(again.services[0].url, pg.url);
    assert!(recorder.has("reusing the running container"), "{:#?}", recorder.lines());
    assert!(recorder.has("sqlx migrations up to date (1 already applied)"), "{:#?}", recorder.lines());
    assert_eq!(psql(&pg.url, "SELECT title FROM todos").unwrap(), "kept");
}

#[test]
fn diesel_migrations_are_applied_without_the_diesel_cli_as_diesel_records_them() {
    let repo = TestRepo::fixture("rust-diesel-postgres", &[]);
    let (mut board, recorder) = repo.board(Vec::new(), system_path());
    let started = Instant::now();
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}\nhint: {:?}\n{:#?}", e.hint, recorder.lines()));
    eprintln!("diesel migrations: {:.1} s", started.elapsed().as_secs_f64());
    let url = board.services[0].url.clone();
    assert!(recorder.has("the Diesel CLI is not installed; applying db/migrations"), "{:#?}", recorder.lines());
    assert!(
        recorder.has(
            "applied 00000000000000_diesel_initial_setup, 2024-01-15-120000_create_greetings, \
             2024-02-01-090000_index_greetings (0 already applied)"
        ),
        "{:#?}",
        recorder.lines()
    );
    // Diesel's own table, with the versions diesel_migrations derives from the folder names.
    let versions = psql(&url, "SELECT version FROM __diesel_schema_migrations ORDER BY version").unwrap();
    assert_eq!(versions, "00000000000000\n20240115120000\n20240201090000");
    let columns = "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                   WHERE table_name = '__diesel_schema_migrations' ORDER BY ordinal_position";
    assert_eq!(psql(&url, columns).unwrap(), "version|character varying|NO\nrun_on|timestamp without time zone|NO");
    assert_eq!(psql(&url, "SELECT text FROM greetings").unwrap(), "hello from a diesel migration");
    // The initial setup's helper functions exist, and the index made CONCURRENTLY (outside a
    // transaction, as metadata.toml asks: inside one PostgreSQL refuses it).
    assert_eq!(psql(&url, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'diesel_%'").unwrap(), "2");
    assert_eq!(
        psql(&url, "SELECT indexname FROM pg_indexes WHERE indexname = 'greetings_text'").unwrap(),
        "greetings_text"
    );

    // Again: nothing is applied twice.
    let (mut again, recorder) = repo.board(Vec::new(), system_path());
    DbAgent.run(&mut again).unwrap_or_else(|e| panic!("{e}\n{:#?}", recorder.lines()));
    assert!(recorder.has("diesel migrations up to date (3 already applied)"), "{:#?}", recorder.lines());
    assert_eq!(psql(&url, "SELECT count(*) FROM greetings").unwrap(), "1");

    // A failing migration leaves neither its effects nor its record.
    write(
        &repo.root().join("db/migrations/2024-03-01-000000_broken/up.sql"),
        "CREATE TABLE half (x int);\nSELECT * FROM missing_table;\n",
    );
    let (mut broken, _) = repo.board(Vec::new(), system_path());
    let err = DbAgent.run(&mut broken).unwrap_err();
    for needle in ["2024-03-01-000000_broken", "missing_table", "diesel_cli"] {
        let text = format!("{} {}", err.message, err.hint.as_deref().unwrap_or_default());
        assert!(text.contains(needle), "`{needle}` missing from: {text}");
    }
    assert!(psql(&url, "SELECT count(*) FROM half").unwrap_err().contains("does not exist"));
    assert_eq!(psql(&url, "SELECT count(*) FROM __diesel_schema_migrations").unwrap(), "3");
}

#[test]
fn a_changed_migration_file_is_reported_not_reapplied() {
    let repo = TestRepo::new(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"m\"\nversion = \"0.1.0\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n",
            ),
            ("src/main.rs", "fn main() {}\n"),
            ("migrations/1_first.sql", "CREATE TABLE a (x int);\n"),
        ],
        true,
    );
    let (mut board, _) = repo.board(Vec::new(), system_path());
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}"));
    let url = board.services[0].url.clone();
    assert_eq!(psql(&url, "SELECT count(*) FROM a").unwrap(), "0");

    // A bad second file fails with the file, psql's message and the log; its effects roll back.
    write(&repo.root().join("migrations/2_second.sql"), "CREATE TABLE b (x int);\nSELECT * FROM missing_table;\n");
    let (mut board, _) = repo.board(Vec::new(), system_path());
    let err = DbAgent.run(&mut board).unwrap_err();
    assert_eq!(err.stage, Stage::Db);
    for needle in ["2_second.sql", "missing_table", "migrate-m.log"] {
        assert!(err.message.contains(needle), "`{needle}` missing from: {}", err.message);
    }
    assert!(err.hint.as_deref().unwrap_or_default().contains("sqlx-cli"), "{:?}", err.hint);
    assert!(psql(&url, "SELECT count(*) FROM b").unwrap_err().contains("does not exist"));

    // Editing an applied file is what sqlx itself refuses: so does the fallback.
    std::fs::remove_file(repo.root().join("migrations/2_second.sql")).unwrap();
    write(&repo.root().join("migrations/1_first.sql"), "CREATE TABLE a (x int, y int);\n");
    let (mut board, _) = repo.board(Vec::new(), system_path());
    let err = DbAgent.run(&mut board).unwrap_err();
    assert!(err.message.contains("was applied but the file has changed"), "{}", err.message);
}

/// A venv named `name` with `packages`, made once per machine (PyPI is reachable).
fn venv(name: &str, packages: &[&str], check: &str) -> PathBuf {
    let venv = std::env::temp_dir().join(format!("repo-run-test-{name}-venv"));
    if !venv.join("bin").join(check).exists() {
        let run = |cmd: &mut Command| {
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        run(Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(packages));
    }
    venv
}

#[test]
fn python_alembic_migrations_run_for_real_with_the_service_url() {
    let venv = venv("alembic", &["alembic", "sqlalchemy", "psycopg[binary]"], "alembic");
    let repo = TestRepo::new(
        &[
            ("requirements.txt", "alembic==1.*\nSQLAlchemy>=2\npsycopg[binary]>=3\n"),
            ("app.py", "import os\nprint(os.environ['DATABASE_URL'])\n"),
            (".env", "DATABASE_URL=postgresql+psycopg://inv:inv@localhost:5432/inventory\n"),
            (
                "alembic.ini",
                "[alembic]\nscript_location = %(here)s/alembic\nsqlalchemy.url = postgresql+psycopg://localhost/inventory\n",
            ),
            (
                "alembic/env.py",
                "import logging\nimport os\n\nfrom alembic import context\nfrom sqlalchemy import create_engine\n\n\
                 logging.basicConfig(level=logging.INFO)\n\
                 url = os.environ['DATABASE_URL'].replace('postgres://', 'postgresql+psycopg://', 1)\n\
                 with create_engine(url).connect() as connection:\n\
                 \x20   context.configure(connection=connection)\n\
                 \x20   with context.begin_transaction():\n\
                 \x20       context.run_migrations()\n",
            ),
            (
                "alembic/versions/0001_items.py",
                "import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '0001'\ndown_revision = None\n\n\n\
                 def upgrade():\n    op.create_table('items', sa.Column('id', sa.Integer, primary_key=True))\n\n\n\
                 def downgrade():\n    op.drop_table('items')\n",
            ),
        ],
        true,
    );
    let (mut board, recorder) = repo.board(vec![venv.join("bin")], BTreeMap::new());
    let migrations = &board.detection.as_ref().unwrap().projects[0].migrations;
    assert_eq!(migrations[0].command.display, "alembic upgrade head", "{migrations:?}");

    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}\nhint: {:?}\n{:#?}", e.hint, recorder.lines()));
    let pg = &board.services[0];
    assert!(pg.url.ends_with("/inventory"), "{}", pg.url);
    // Alembic found `alembic` through Setup's PATH, connected with the real URL, and migrated.
    assert_eq!(psql(&pg.url, "SELECT version_num FROM alembic_version").unwrap(), "0001");
    assert_eq!(psql(&pg.url, "SELECT count(*) FROM items").unwrap(), "0");
    assert!(recorder.has("migrating: alembic upgrade head"), "{:#?}", recorder.lines());
    let name = &board.detection.as_ref().unwrap().projects[0].name;
    let log = std::fs::read_to_string(board.workdir.log_file(&format!("migrate-{name}"))).unwrap();
    assert!(log.contains("Running upgrade  -> 0001"), "{log}");

    // Idempotent: Alembic tracks what it applied.
    let (mut board, recorder) = repo.board(vec![venv.join("bin")], BTreeMap::new());
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}\n{:#?}", recorder.lines()));
    assert_eq!(psql(&board.services[0].url, "SELECT version_num FROM alembic_version").unwrap(), "0001");
}

#[test]
fn a_failing_migration_command_names_the_command_the_status_and_the_log() {
    // A Procfile release line: the repository's own shell command, with the project's env.
    let repo = TestRepo::new(
        &[
            ("requirements.txt", "flask\npsycopg2-binary\n"),
            ("app.py", "import os\nDB = os.environ['DATABASE_URL']\n"),
            (
                "Procfile",
                "web: flask run\nrelease: psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -c 'CREATE TABLE migrated (x int)' && echo migrate-failed-on-purpose && exit 7\n",
            ),
        ],
        true,
    );
    let (mut board, recorder) = repo.board(Vec::new(), BTreeMap::new());
    let migrations = &board.detection.as_ref().unwrap().projects[0].migrations;
    assert_eq!(migrations.len(), 1, "{migrations:?}");
    let err = DbAgent.run(&mut board).unwrap_err();
    assert_eq!(err.stage, Stage::Db);
    for needle in ["psql \"$DATABASE_URL\"", "exit status: 7", "migrate-", ".log", "migrate-failed-on-purpose"] {
        assert!(err.message.contains(needle), "`{needle}` missing from: {}", err.message);
    }
    assert!(err.hint.is_some());
    // The command reached the service through the injected URL before failing.
    let url = &board.services[0].url;
    assert_eq!(psql(url, "SELECT count(*) FROM migrated").unwrap(), "0");
    assert!(recorder.has("output: migrate-failed-on-purpose"), "{:#?}", recorder.lines());
    assert!(recorder.has("through sh -c"), "{:#?}", recorder.lines());
}

#[test]
fn django_reads_the_parts_of_the_address_and_migrates_the_database_its_settings_name() {
    let venv = venv("django", &["Django>=5.0,<5.1", "psycopg[binary]"], "django-admin");
    // Setup would generate SECRET_KEY into `.env`; the settings name the database only by a
    // default in code: `os.environ.get("POSTGRES_DB", "mysite")`.
    let repo = TestRepo::fixture("python-django-postgres", &[(".env", "SECRET_KEY=test-only\n")]);
    let (mut board, recorder) = repo.board(vec![venv.join("bin")], BTreeMap::new());
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}\nhint: {:?}\n{:#?}", e.hint, recorder.lines()));

    let pg = &board.services[0];
    assert!(pg.url.ends_with("/mysite"), "{}", pg.url);
    let env = board.project_env(".");
    assert_eq!(env["POSTGRES_HOST"], "127.0.0.1");
    assert_eq!(env["POSTGRES_PORT"], pg.host_port.to_string());
    assert_eq!((env["POSTGRES_USER"].as_str(), env["POSTGRES_DB"].as_str()), ("repo_run", "mysite"));
    // `python manage.py migrate` ran with those parts: Django's own tables are in `mysite`.
    assert!(recorder.has("migrating: python manage.py migrate"), "{:#?}", recorder.lines());
    let applied = psql(&pg.url, "SELECT count(*) FROM django_migrations WHERE app = 'auth'").unwrap();
    assert!(applied.parse::<u32>().unwrap() > 5, "{applied}");
    assert!(recorder.has("output:   Applying auth.0001_initial... OK"), "{:#?}", recorder.lines());
}

/// Runs one test of this binary in a child process with `env` changed; asserts it passed.
fn in_child(test: &str, set: &[(&str, &str)], remove: &[&str]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture"]).env(CHILD, "1");
    for (k, v) in set {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
}

const CHILD: &str = "REPO_RUN_DB_AGENT_TEST_CHILD";
const DEAD_DOCKER: &str = "unix:///nonexistent/repo-run/docker.sock";

#[test]
fn dead_docker_host_is_a_quick_clear_error_and_projects_without_services_never_need_docker() {
    if std::env::var_os(CHILD).is_none() {
        return in_child(
            "dead_docker_host_is_a_quick_clear_error_and_projects_without_services_never_need_docker",
            &[(env_vars::DOCKER_HOST, DEAD_DOCKER)],
            &[],
        );
    }
    // No services (a static Node app): fine without any daemon.
    let plain = TestRepo::new(
        &[("package.json", "{\"name\":\"plain\",\"scripts\":{\"start\":\"node server.js\"}}\n"), ("server.js", "")],
        false,
    );
    let (mut board, recorder) = plain.board(Vec::new(), BTreeMap::new());
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}"));
    assert!(board.services.is_empty());
    assert!(recorder.lines().is_empty(), "{:#?}", recorder.lines());
    assert!(!board.workdir.state_file().exists());

    // Services needed: the daemon's address, what to do, and no long wait.
    let pg = TestRepo::new(
        &[("requirements.txt", "psycopg2-binary\n"), ("app.py", "import os\nos.environ['DATABASE_URL']\n")],
        false,
    );
    let (mut board, _) = pg.board(Vec::new(), BTreeMap::new());
    let started = Instant::now();
    let err = DbAgent.run(&mut board).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(err.stage, Stage::Db);
    assert!(err.message.contains(DEAD_DOCKER) && err.message.contains("unreachable"), "{}", err.message);
    let hint = err.hint.unwrap();
    assert!(hint.contains("start Docker") && hint.contains("DOCKER_HOST"), "{hint}");
}

#[test]
fn an_image_from_repo_run_toml_that_cannot_be_pulled_names_the_image_and_the_ways_to_provide_one() {
    if std::env::var_os(CHILD).is_none() {
        // The machine's override would win over the file: this test runs without it.
        return in_child(
            "an_image_from_repo_run_toml_that_cannot_be_pulled_names_the_image_and_the_ways_to_provide_one",
            &[],
            &[env_vars::REPO_RUN_REDIS_IMAGE],
        );
    }
    let repo = TestRepo::new(
        &[
            ("requirements.txt", "redis\n"),
            ("app.py", "import os\nos.environ['REDIS_URL']\n"),
            (
                "repo-run.toml",
                "[models.fixer]\nmodel = \"x\"\n\n[services.redis]\nimage = \"repo-run-test/absent-redis:0\"\n",
            ),
        ],
        true,
    );
    let (mut board, _) = repo.board(Vec::new(), BTreeMap::new());
    let err = DbAgent.run(&mut board).unwrap_err();
    assert!(err.message.contains("repo-run-test/absent-redis:0"), "{}", err.message);
    let hint = err.hint.unwrap();
    for needle in ["REPO_RUN_REDIS_IMAGE", "repo-run.toml", "[services.redis]", "cargo xtask images"] {
        assert!(hint.contains(needle), "`{needle}` missing from: {hint}");
    }
    // A broken file is named with its key.
    write(&repo.root().join("repo-run.toml"), "[services.redis]\nimage = 7\n");
    let (mut board, _) = repo.board(Vec::new(), BTreeMap::new());
    let err = DbAgent.run(&mut board).unwrap_err();
    assert!(err.message.contains("repo-run.toml") && err.message.contains("[services.redis]"), "{}", err.message);
}

#[test]
fn the_machine_override_wins_over_repo_run_toml() {
    let Ok(local) = std::env::var(env_vars::REPO_RUN_REDIS_IMAGE) else {
        eprintln!("SKIPPED: REPO_RUN_REDIS_IMAGE is not set (run `cargo xtask images` and export its lines)");
        return;
    };
    let repo = TestRepo::new(
        &[
            ("requirements.txt", "redis\n"),
            ("app.py", "import os\nos.environ['REDIS_URL']\n"),
            ("repo-run.toml", "[services.redis]\nimage = \"repo-run-test/absent-redis:0\"\n"),
        ],
        true,
    );
    let (mut board, recorder) = repo.board(Vec::new(), BTreeMap::new());
    DbAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(board.services[0].image, local);
    assert!(recorder.has(&format!("({local})")), "{:#?}", recorder.lines());
    let env = board.project_env(".");
    assert_eq!(env["REDIS_URL"], format!("redis://127.0.0.1:{}", board.services[0].host_port));
}
