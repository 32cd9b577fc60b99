//! `tiering-cluster`: a Ballista scheduler or executor, for running `[engine] kind =
//! "ballista"` without installing Ballista's own binaries (docs/distributed.md). Built with
//! the `distributed` feature only.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tiering-cluster",
    version,
    about = "A Ballista scheduler or executor for tiering's cluster engine"
)]
struct Cli {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Starts a scheduler: clients connect to df://HOST:PORT.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
    },
    /// Starts an executor that registers with a scheduler and runs its tasks.
    Executor {
        /// IP address to listen on, which the scheduler and the other executors reach it at
        /// (an address, not a host name).
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Port of the executor's Arrow Flight service (shuffle data).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Port of the executor's gRPC service (tasks from the scheduler).
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        #[arg(long, default_value = "localhost")]
        scheduler_host: String,
        #[arg(long, default_value_t = 50050)]
        scheduler_port: u16,
        /// Tasks run at once (default: the machine's cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Folder for shuffle files (default: a new folder in the system's temporary folder).
        #[arg(long)]
        work_dir: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Deep query plans are planned recursively; Ballista's own binaries use 32 MiB too.
        .thread_stack_size(32 * 1024 * 1024)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cli.role)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(role: Role) -> Result<()> {
    match role {
        Role::Scheduler { bind, port } => {
            let addr: SocketAddr = format!("{bind}:{port}")
                .parse()
                .with_context(|| format!("--bind {bind} --port {port} is not an address"))?;
            let config = SchedulerConfig {
                bind_host: bind.clone(),
                bind_port: port,
                external_host: bind,
                ..Default::default()
            };
            let cluster = BallistaCluster::new_from_config(&config)
                .await
                .context("setting up the scheduler's state")?;
            eprintln!("scheduler listening on df://{addr}");
            start_server(cluster, addr, Arc::new(config))
                .await
                .with_context(|| format!("running the scheduler on {addr}"))
        }
        Role::Executor {
            bind,
            port,
            grpc_port,
            scheduler_host,
            scheduler_port,
            concurrent_tasks,
            work_dir,
        } => {
            // Ballista's default work folder is gone by the time it is used: a folder of
            // our own under the system's temporary folder, kept for the process's life.
            let work_dir = match work_dir {
                Some(d) => d,
                None => {
                    let d = std::env::temp_dir()
                        .join(format!("tiering-cluster-executor-{}", std::process::id()));
                    std::fs::create_dir_all(&d)
                        .with_context(|| format!("creating the work folder {}", d.display()))?;
                    d.to_string_lossy().into_owned()
                }
            };
            let mut config = ExecutorProcessConfig {
                bind_host: bind.clone(),
                external_host: Some(bind),
                port,
                grpc_port,
                scheduler_host: scheduler_host.clone(),
                scheduler_port,
                scheduler_connect_timeout_seconds: 30,
                work_dir: Some(work_dir),
                print_thread_info: false,
                ..Default::default()
            };
            if let Some(n) = concurrent_tasks {
                config.vcores = n;
            }
            eprintln!(
                "executor on port {port} (gRPC {grpc_port}), scheduler {scheduler_host}:{scheduler_port}"
            );
            start_executor_process(Arc::new(config))
                .await
                .with_context(|| {
                    format!("running the executor (scheduler {scheduler_host}:{scheduler_port})")
                })
        }
    }
}
