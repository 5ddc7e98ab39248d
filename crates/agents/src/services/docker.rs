//! The Docker Engine API calls behind [`super::Services`], through bollard.

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant, SystemTime};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ExecConfig, HealthConfig, HostConfig, Mount, MountType, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptions, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::catalogue::{self, ServiceDef, Vars};
use super::{
    DownOptions, PROJECT_LABEL, ProjectId, RunningService, SERVICE_LABEL, ServiceError, ServiceRequest, Teardown,
    env_vars, readiness,
};
use crate::plan::ServiceKind;

/// How long one exec (a probe, a database creation) may run.
const EXEC_TIMEOUT: Duration = Duration::from_secs(20);
/// How many log lines a readiness failure shows.
const LOG_TAIL: usize = 20;
/// Attempts at publishing a port: another process may take a free port before Docker binds it.
const PORT_ATTEMPTS: usize = 3;

pub(super) struct Engine {
    docker: Docker,
}

/// A container created and started, not yet known to be ready.
struct Started<'a> {
    kind: ServiceKind,
    def: &'a ServiceDef,
    database: Option<String>,
    also_create: &'a [String],
    container: String,
    image: String,
    host_port: u16,
    since: SystemTime,
    created: Instant,
    reused: bool,
}

impl Engine {
    pub async fn connect(host: &str, timeout: Duration) -> Result<Self, ServiceError> {
        let unreachable = |reason: String| ServiceError::Unreachable { host: host.to_owned(), reason };
        let docker = Docker::connect_with_host(host).map_err(|e| unreachable(e.to_string()))?;
        match tokio::time::timeout(timeout, docker.ping()).await {
            Ok(Ok(_)) => Ok(Engine { docker }),
            Ok(Err(e)) => Err(unreachable(e.to_string())),
            Err(_) => Err(unreachable(format!("no answer within {timeout:?}"))),
        }
    }

    pub async fn up(
        &self,
        project: &ProjectId,
        requests: &[ServiceRequest],
    ) -> Result<Vec<RunningService>, ServiceError> {
        let mut started = Vec::with_capacity(requests.len());
        for request in requests {
            started.push(self.start(project, request).await?);
        }
        // Waits overlap: the slowest service sets the pace, not the sum.
        let ready = futures_util::future::join_all(started.into_iter().map(|s| self.make_ready(s))).await;
        ready.into_iter().collect()
    }

    async fn start<'a>(&self, project: &ProjectId, request: &'a ServiceRequest) -> Result<Started<'a>, ServiceError> {
        let kind = request.kind;
        let def = match &request.definition {
            Some(def) => def,
            None => catalogue::get(kind)?,
        };
        if let Some(db) = &request.database {
            check_database_name(db)?;
        }
        let var = env_vars::image_override(kind);
        // The machine's override beats the project's choice: it exists because this machine cannot pull.
        let from_env = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        let image = from_env.or_else(|| request.image.clone()).unwrap_or_else(|| def.image.clone());
        let name = project.resource_name(kind);
        let created = Instant::now();
        let started = |host_port, since, reused| Started {
            kind,
            def,
            database: request.database.clone(),
            also_create: &request.also_create,
            container: name.clone(),
            image: image.clone(),
            host_port,
            since,
            created,
            reused,
        };

        // A running container with the same image is kept; anything else is replaced (the data
        // is in the volume, and a stopped container's port may have been taken meanwhile).
        if let Some(existing) = self.inspect(&name).await? {
            let running = existing.state.as_ref().and_then(|s| s.running).unwrap_or(false);
            let port = published_port(&existing, def.container_port);
            if running && existing.config.as_ref().and_then(|c| c.image.as_deref()) == Some(image.as_str()) {
                if let Some(port) = port {
                    return Ok(started(port, SystemTime::UNIX_EPOCH, true));
                }
            }
            self.remove_container(&name).await?;
        }

        self.ensure_image(kind, &image, var).await?;
        let volume =
            VolumeCreateRequest { name: Some(name.clone()), labels: Some(labels(project, kind)), ..Default::default() };
        self.docker.create_volume(volume).await.map_err(docker_error(format!("creating volume {name}")))?;

        let vars = Vars { credentials: def.credentials.as_ref(), db: request.database.as_deref(), ..Vars::default() };
        let mut preferred = Some(def.container_port);
        for attempt in 1..=PORT_ATTEMPTS {
            let host_port =
                free_port(preferred.take()).map_err(|source| ServiceError::NoFreePort { service: kind, source })?;
            self.create(project, kind, &image, def, &vars, host_port).await?;
            let since = SystemTime::now();
            match self.docker.start_container(&name, None::<StartContainerOptions>).await {
                Ok(()) => return Ok(started(host_port, since, false)),
                Err(e) if attempt < PORT_ATTEMPTS && is_port_conflict(&e) => self.remove_container(&name).await?,
                Err(e) => return Err(docker_error(format!("starting {name}"))(e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn create(
        &self,
        project: &ProjectId,
        kind: ServiceKind,
        image: &str,
        def: &ServiceDef,
        vars: &Vars<'_>,
        host_port: u16,
    ) -> Result<(), ServiceError> {
        let name = project.resource_name(kind);
        let port_key = format!("{}/tcp", def.container_port);
        let binding =
            PortBinding { host_ip: Some(Ipv4Addr::LOCALHOST.to_string()), host_port: Some(host_port.to_string()) };
        let healthcheck = match &def.readiness.probe {
            catalogue::Probe::Exec { command, .. } => Some(HealthConfig {
                test: Some(["CMD".to_owned()].into_iter().chain(command.iter().map(|a| vars.expand(a))).collect()),
                interval: Some(nanos(Duration::from_secs(5))),
                timeout: Some(nanos(Duration::from_secs(5))),
                start_period: Some(nanos(def.readiness.timeout)),
                ..Default::default()
            }),
            catalogue::Probe::Log { .. } => None,
        };
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            // A fixed hostname: RabbitMQ names its node, and its data directory, after it.
            hostname: Some(kind.to_string()),
            env: Some(def.env.iter().map(|(k, v)| format!("{k}={}", vars.expand(v))).collect()),
            labels: Some(labels(project, kind)),
            exposed_ports: Some(vec![port_key.clone()]),
            healthcheck,
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(port_key, Some(vec![binding]))])),
                mounts: Some(vec![Mount {
                    target: Some(def.volume_path.clone()),
                    source: Some(name.clone()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(docker_error(format!("creating container {name}")))?;
        Ok(())
    }

    /// The image is local, or pulled; otherwise an error that says how to provide it.
    async fn ensure_image(&self, kind: ServiceKind, image: &str, var: &'static str) -> Result<(), ServiceError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(docker_error(format!("inspecting image {image}"))(e)),
        }
        let options = CreateImageOptionsBuilder::default().from_image(image).build();
        let mut pull = self.docker.create_image(Some(options), None, None);
        while let Some(progress) = pull.next().await {
            if let Err(e) = progress {
                let reason = match e {
                    BollardError::DockerResponseServerError { message, .. } => message,
                    BollardError::DockerStreamError { error } => error,
                    other => other.to_string(),
                };
                return Err(ServiceError::MissingImage { service: kind, image: image.to_owned(), var, reason });
            }
        }
        Ok(())
    }

    async fn make_ready(&self, s: Started<'_>) -> Result<RunningService, ServiceError> {
        let vars = Vars { credentials: s.def.credentials.as_ref(), db: s.database.as_deref(), ..Vars::default() };
        let deadline = s.created + s.def.readiness.timeout;
        if let Err(reason) = readiness::wait(self, &s.container, &s.def.readiness.probe, &vars, s.since, deadline).await
        {
            let logs = self.last_logs(&s.container).await;
            return Err(ServiceError::NotReady {
                service: s.kind,
                container: s.container,
                waited: s.created.elapsed(),
                reason,
                logs,
            });
        }
        let ready_after = s.created.elapsed();
        if let (Some(command), Some(creds)) = (&s.def.create_database, &s.def.credentials) {
            let first = s.database.as_deref().unwrap_or(&creds.db);
            for name in std::iter::once(first).chain(s.also_create.iter().map(String::as_str)) {
                let vars = Vars { name: Some(name), ..vars.clone() };
                let command: Vec<String> = command.iter().map(|a| vars.expand(a)).collect();
                let (code, output) = self.exec(&s.container, command).await?;
                if code != Some(0) {
                    return Err(ServiceError::CreateDatabase { service: s.kind, database: name.to_owned(), output });
                }
            }
        }
        let url = Vars { host_port: Some(s.host_port), ..vars }.expand(&s.def.url);
        Ok(RunningService {
            kind: s.kind,
            container: s.container,
            image: s.image,
            host_port: s.host_port,
            url,
            url_env: s.def.url_env.clone(),
            ready_after,
            reused: s.reused,
        })
    }

    /// Runs `command` in the container; its exit code and combined output.
    pub(super) async fn exec(
        &self,
        container: &str,
        command: Vec<String>,
    ) -> Result<(Option<i64>, String), ServiceError> {
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(command),
            ..Default::default()
        };
        let id =
            self.docker.create_exec(container, config).await.map_err(docker_error(format!("exec in {container}")))?.id;
        let mut output = String::new();
        let run = async {
            if let bollard::exec::StartExecResults::Attached { output: mut stream, .. } =
                self.docker.start_exec(&id, None).await?
            {
                while let Some(chunk) = stream.next().await {
                    output.push_str(&chunk?.to_string());
                }
            }
            Ok::<_, BollardError>(())
        };
        match tokio::time::timeout(EXEC_TIMEOUT, run).await {
            Ok(result) => result.map_err(docker_error(format!("exec in {container}")))?,
            Err(_) => return Ok((None, format!("{output}(no exit within {EXEC_TIMEOUT:?})"))),
        }
        let inspect = self.docker.inspect_exec(&id).await.map_err(docker_error(format!("exec in {container}")))?;
        Ok((inspect.exit_code, output))
    }

    /// The container's log since `since` (whole seconds), stdout and stderr together.
    pub(super) async fn logs_since(&self, container: &str, since: SystemTime) -> Result<String, ServiceError> {
        let secs = since.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let options =
            LogsOptionsBuilder::default().stdout(true).stderr(true).since(i32::try_from(secs).unwrap_or(0)).build();
        self.collect_logs(container, options).await
    }

    async fn last_logs(&self, container: &str) -> String {
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&LOG_TAIL.to_string()).build();
        self.collect_logs(container, options).await.unwrap_or_else(|e| format!("(logs unavailable: {e})"))
    }

    async fn collect_logs(
        &self,
        container: &str,
        options: bollard::query_parameters::LogsOptions,
    ) -> Result<String, ServiceError> {
        let mut stream = self.docker.logs(container, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&chunk.map_err(docker_error(format!("reading logs of {container}")))?.to_string());
        }
        Ok(text)
    }

    /// Whether the container is still running, and its exit code when not.
    pub(super) async fn running(&self, container: &str) -> Result<(bool, Option<i64>), ServiceError> {
        let state = self.inspect(container).await?.and_then(|c| c.state);
        Ok(state.map_or((false, None), |s| (s.running.unwrap_or(false), s.exit_code)))
    }

    pub async fn down(&self, project: &ProjectId, options: DownOptions) -> Result<Teardown, ServiceError> {
        let found = self.resources(project).await?;
        let mut removed = Teardown::default();
        for name in found.containers {
            let stop = StopContainerOptionsBuilder::default().t(10).build();
            match self.docker.stop_container(&name, Some(stop)).await {
                Ok(()) => {}
                // 304: already stopped; 404: already gone.
                Err(e) if matches!(status(&e), Some(304 | 404)) => {}
                Err(e) => return Err(docker_error(format!("stopping {name}"))(e)),
            }
            self.remove_container(&name).await?;
            removed.containers.push(name);
        }
        if options.remove_volumes {
            for name in found.volumes {
                match self.docker.remove_volume(&name, None::<RemoveVolumeOptions>).await {
                    Ok(()) => {}
                    Err(e) if status(&e) == Some(404) => {}
                    Err(e) => return Err(docker_error(format!("removing volume {name}"))(e)),
                }
                removed.volumes.push(name);
            }
        }
        Ok(removed)
    }

    pub async fn resources(&self, project: &ProjectId) -> Result<Teardown, ServiceError> {
        let filter = HashMap::from([("label".to_owned(), vec![format!("{PROJECT_LABEL}={project}")])]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filter).build();
        let containers =
            self.docker.list_containers(Some(options)).await.map_err(docker_error("listing containers".into()))?;
        let mut containers: Vec<String> = containers
            .into_iter()
            .filter_map(|c| c.names?.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect();
        let options = ListVolumesOptionsBuilder::default().filters(&filter).build();
        let volumes = self.docker.list_volumes(Some(options)).await.map_err(docker_error("listing volumes".into()))?;
        let mut volumes: Vec<String> = volumes.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect();
        containers.sort();
        volumes.sort();
        Ok(Teardown { containers, volumes })
    }

    /// The names of the project's containers that are running now.
    pub async fn running_containers(&self, project: &ProjectId) -> Result<Vec<String>, ServiceError> {
        let filter = HashMap::from([
            ("label".to_owned(), vec![format!("{PROJECT_LABEL}={project}")]),
            ("status".to_owned(), vec!["running".to_owned()]),
        ]);
        let options = ListContainersOptionsBuilder::default().filters(&filter).build();
        let containers =
            self.docker.list_containers(Some(options)).await.map_err(docker_error("listing containers".into()))?;
        Ok(containers
            .into_iter()
            .filter_map(|c| c.names?.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect())
    }

    async fn inspect(&self, name: &str) -> Result<Option<bollard::models::ContainerInspectResponse>, ServiceError> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(docker_error(format!("inspecting {name}"))(e)),
        }
    }

    /// Removes a container and its anonymous volumes; never the named data volume.
    async fn remove_container(&self, name: &str) -> Result<(), ServiceError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(docker_error(format!("removing {name}"))(e)),
        }
    }
}

fn labels(project: &ProjectId, kind: ServiceKind) -> HashMap<String, String> {
    HashMap::from([(PROJECT_LABEL.to_owned(), project.to_string()), (SERVICE_LABEL.to_owned(), kind.to_string())])
}

/// The host port published for `container_port` on a container.
fn published_port(container: &bollard::models::ContainerInspectResponse, container_port: u16) -> Option<u16> {
    let ports = container.network_settings.as_ref()?.ports.as_ref()?;
    let bindings = ports.get(&format!("{container_port}/tcp"))?.as_ref()?;
    bindings.iter().find_map(|b| b.host_port.as_deref()?.parse().ok())
}

/// `preferred` when nothing listens on it on 127.0.0.1, else a port the system picks.
fn free_port(preferred: Option<u16>) -> std::io::Result<u16> {
    if let Some(port) = preferred {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Database names go into shell and SQL text inside the container: keep them plain.
fn check_database_name(name: &str) -> Result<(), ServiceError> {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain && !name.is_empty() && name.len() <= 63 && !name.starts_with('-') {
        Ok(())
    } else {
        Err(ServiceError::InvalidDatabaseName(name.to_owned()))
    }
}

fn is_port_conflict(e: &BollardError) -> bool {
    let text = e.to_string();
    text.contains("port is already allocated") || text.contains("address already in use")
}

fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn docker_error(action: String) -> impl FnOnce(BollardError) -> ServiceError {
    move |source| ServiceError::Docker { action, source }
}

/// Docker's health check durations are nanoseconds.
fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_port_is_used_when_free_and_replaced_when_busy() {
        let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let other = free_port(Some(busy_port)).unwrap();
        assert_ne!(other, busy_port);
        drop(busy);
        assert_eq!(free_port(Some(busy_port)).unwrap(), busy_port);
    }

    #[test]
    fn database_names_are_checked() {
        for good in ["app", "shop_dev", "my-app2"] {
            assert!(check_database_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a b", "x';DROP", "a\"b", &"x".repeat(64)] {
            assert!(matches!(check_database_name(bad), Err(ServiceError::InvalidDatabaseName(_))), "{bad}");
        }
    }
}
