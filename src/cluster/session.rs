//! The connection to the Ballista scheduler: tables registered over the input paths, queries
//! run and their (small) results brought back as polars frames through Parquet bytes.

use std::collections::BTreeSet;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use ballista::prelude::SessionContextExt;
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    job_status, operator_metric, CancelJobParams, GetJobMetricsParams, GetJobStatusParams,
    JobStageMetrics,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::physical_plan::collect;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use datafusion_proto::protobuf::LogicalPlanNode;
use polars::prelude::{DataFrame, ParquetReader, SerReader};

use super::sql::{q, Kind, Source};
use crate::config::{InputFormat, Pipeline};
use crate::error::InputError;
use crate::progress::{thousands, Progress};

/// How long to wait for the scheduler's port before saying it cannot be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a job may wait for an executor to take it.
const QUEUE_LIMIT: Duration = Duration::from_secs(120);

/// The output rows of a finished stage's operators at `depth` (0: the stage's result; the
/// deepest: what it read).
fn rows_at(stage: &JobStageMetrics, depth: u32) -> u64 {
    stage
        .operators
        .iter()
        .filter(|o| o.depth == depth)
        .flat_map(|o| &o.metrics)
        .filter_map(|m| match m.metric {
            Some(operator_metric::Metric::OutputRows(n)) => Some(n),
            _ => None,
        })
        .sum()
}

pub struct Cluster {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    url: String,
    /// The scheduler's gRPC address, for job status and stage metrics.
    endpoint: String,
    /// The registered paths, for messages.
    paths: std::cell::RefCell<Vec<String>>,
    /// Text date columns and their formats, for naming the column of a bad date.
    dates: std::cell::RefCell<Vec<(String, String)>>,
}

impl Cluster {
    /// Checks that the scheduler's port answers, then opens a session on it.
    pub fn connect(url: &str, host: &str, port: u16) -> Result<Cluster> {
        let unreachable = |why: String| {
            anyhow!(
                "cannot reach the Ballista scheduler at {url} ({why}); start one (docs/distributed.md: tiering-cluster scheduler) or correct [engine] url"
            )
        };
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("host {host:?} not found: {e}")))?
            .collect();
        let mut last = None;
        let reached = addrs.iter().any(|a| {
            TcpStream::connect_timeout(a, CONNECT_TIMEOUT)
                .map_err(|e| last = Some(e))
                .is_ok()
        });
        if !reached {
            return Err(unreachable(match last {
                Some(e) => e.to_string(),
                None => "no address".into(),
            }));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the cluster client's async runtime")?;
        let ctx = runtime
            .block_on(SessionContext::remote(url))
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Cluster {
            runtime,
            ctx,
            url: url.to_string(),
            endpoint: format!("http://{host}:{port}"),
            paths: Default::default(),
            dates: Default::default(),
        })
    }

    /// Registers the input path `path` (a file, a folder or a glob, which every executor
    /// must be able to read at the same path) as table `lines_<index>`; CSV columns are all
    /// read as text, as the local reader does, so every value is parsed by the same rules.
    pub fn register(
        &self,
        index: usize,
        path: &Path,
        format: InputFormat,
        p: &Pipeline,
    ) -> Result<Source> {
        let table = format!("lines_{index}");
        let mut location = path.to_string_lossy().into_owned();
        if path.is_dir() && !location.ends_with('/') {
            location.push('/');
        }
        self.paths.borrow_mut().push(location.clone());
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| !e.contains(['*', '?', '[']))
            .map(|e| format!(".{e}"));
        let csv = format != InputFormat::Parquet;
        let unreadable = |e: datafusion::error::DataFusionError| InputError::Unreadable {
            file: path.to_path_buf(),
            message: format!(
                "{e} (the cluster engine needs a path this machine and every executor can read)"
            ),
        };
        let registered = if csv {
            let o = &p.input.csv;
            if !o.encoding.eq_ignore_ascii_case("utf-8") && !o.encoding.eq_ignore_ascii_case("utf8")
            {
                anyhow::bail!(
                    "[input.csv] encoding = {:?}: the cluster engine reads UTF-8 CSV only; convert the files (e.g. iconv -f {} -t UTF-8) or to Parquet",
                    o.encoding,
                    o.encoding
                );
            }
            let ext = ext.unwrap_or_else(|| ".csv".into());
            let options = CsvReadOptions::new()
                .has_header(true)
                .delimiter(o.delimiter)
                .file_extension(&ext);
            let header = self
                .runtime
                .block_on(self.ctx.read_csv(location.as_str(), options.clone()))
                .map_err(unreadable)?;
            // Every column as text; a byte-order mark left out of the first name.
            let fields: Vec<Field> = header
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    Field::new(
                        f.name().trim_start_matches('\u{feff}'),
                        ArrowType::Utf8,
                        true,
                    )
                })
                .collect();
            let schema = Schema::new(fields);
            self.runtime
                .block_on(
                    self.ctx
                        .register_csv(&table, location.as_str(), options.schema(&schema)),
                )
                .map_err(unreadable)?;
            schema
        } else {
            let ext = ext.unwrap_or_else(|| ".parquet".into());
            let options = ParquetReadOptions::default().file_extension(&ext);
            self.runtime
                .block_on(
                    self.ctx
                        .register_parquet(&table, location.as_str(), options),
                )
                .map_err(unreadable)?;
            let provider = self
                .runtime
                .block_on(self.ctx.table_provider(table.as_str()))
                .map_err(unreadable)?;
            provider.schema().as_ref().clone()
        };
        let columns = registered
            .fields()
            .iter()
            .map(|f| (f.name().clone(), kind_of(f.data_type())))
            .collect::<Vec<_>>();
        let source = Source {
            table,
            columns,
            csv,
        };
        check_columns(path, &source, p)?;
        Ok(source)
    }

    /// Says which text column is parsed with which date format, so that a bad date's error
    /// names its column.
    pub fn date_columns(&self, columns: Vec<(String, String)>) {
        *self.dates.borrow_mut() = columns;
    }

    /// Up to `limit` values of a column that are not null, as text (date format detection).
    pub fn values(&self, table: &str, column: &str, limit: usize) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT CAST({c} AS VARCHAR) AS v FROM {t} WHERE {c} IS NOT NULL LIMIT {limit}",
            c = q(column),
            t = q(table)
        );
        let df = self.collect(&sql, "reading values of a date column")?;
        Ok(df
            .column("v")?
            .str()?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect())
    }

    /// Runs a query on the cluster, says what it did on stderr, and returns its result.
    pub fn query(&self, what: &str, sql: &str, progress: &Progress) -> Result<DataFrame> {
        progress.detail(&format!("cluster: {what} ..."));
        let start = Instant::now();
        let df = self.collect_watched(sql, what, Some(progress))?;
        progress.stage(
            "cluster",
            &format!(
                "{what}: {} result rows in {:.1} s",
                thousands(df.height() as u64),
                start.elapsed().as_secs_f64()
            ),
        );
        Ok(df)
    }

    fn collect(&self, sql: &str, what: &str) -> Result<DataFrame> {
        self.collect_watched(sql, what, None)
    }

    /// Runs `sql` and, with `progress`, says on stderr which of the cluster's stages are done
    /// and the rows they produced, asking the scheduler every second. A job that no executor
    /// takes within [`QUEUE_LIMIT`] is cancelled and is an error.
    fn collect_watched(
        &self,
        sql: &str,
        what: &str,
        progress: Option<&Progress>,
    ) -> Result<DataFrame> {
        let (schema, batches) = self
            .runtime
            .block_on(self.run_job(sql, progress))
            .map_err(|e| self.query_error(what, e))?;
        // Back as Parquet: the one format both sides read alike.
        let schema = batches.first().map_or(schema, |b| b.schema());
        let mut buf = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buf, schema, None)?;
        for b in &batches {
            writer.write(b)?;
        }
        writer.close()?;
        Ok(ParquetReader::new(std::io::Cursor::new(buf)).finish()?)
    }

    async fn run_job(
        &self,
        sql: &str,
        progress: Option<&Progress>,
    ) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), DataFusionError> {
        let df = self.ctx.sql(sql).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let plan = df.create_physical_plan().await?;
        let job = tokio::spawn(collect(plan.clone(), self.ctx.task_ctx()));
        tokio::pin!(job);
        let mut client: Option<SchedulerGrpcClient<_>> = None;
        let mut reported = BTreeSet::new();
        let started = Instant::now();
        loop {
            let finished = tokio::select! {
                done = &mut job => Some(done),
                _ = tokio::time::sleep(Duration::from_secs(1)) => None,
            };
            let id = plan
                .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
                .and_then(|d| d.job_id());
            if let Some(id) = &id {
                if client.is_none() {
                    client = SchedulerGrpcClient::connect(self.endpoint.clone())
                        .await
                        .ok();
                }
                if let (Some(c), Some(p)) = (client.as_mut(), progress) {
                    report_stages(c, id.as_str(), &mut reported, p).await;
                }
            }
            if let Some(done) = finished {
                let batches = done.map_err(|e| DataFusionError::Execution(e.to_string()))??;
                return Ok((schema, batches));
            }
            let (Some(id), Some(c)) = (id, client.as_mut()) else {
                continue;
            };
            let status = c
                .get_job_status(GetJobStatusParams {
                    job_id: id.as_str().to_string(),
                })
                .await
                .ok()
                .and_then(|r| r.into_inner().status)
                .and_then(|s| s.status);
            if matches!(status, Some(job_status::Status::Queued(_)))
                && started.elapsed() > QUEUE_LIMIT
            {
                let _ = c
                    .cancel_job(CancelJobParams {
                        job_id: id.as_str().to_string(),
                    })
                    .await;
                return Err(DataFusionError::Execution(format!(
                    "no executor took the job within {} s; are executors running and registered with the scheduler? (tiering-cluster executor --scheduler-host ..., docs/distributed.md)",
                    QUEUE_LIMIT.as_secs()
                )));
            }
        }
    }
}

/// Says which stages of job `id` are done that were not said yet: the tasks, the rows the
/// stage read (from the files or the stage before) and the rows it wrote.
async fn report_stages(
    client: &mut SchedulerGrpcClient<tonic::transport::Channel>,
    id: &str,
    reported: &mut BTreeSet<u32>,
    progress: &Progress,
) {
    let Ok(metrics) = client
        .get_job_metrics(GetJobMetricsParams {
            job_id: id.to_string(),
        })
        .await
    else {
        return;
    };
    for stage in metrics.into_inner().stages {
        if reported.insert(stage.stage_id) {
            let deepest = stage.operators.iter().map(|o| o.depth).max().unwrap_or(0);
            progress.stage(
                "cluster",
                &format!(
                    "stage {}: {} task(s) read {} rows, wrote {}",
                    stage.stage_id,
                    stage.partitions,
                    thousands(rows_at(&stage, deepest)),
                    thousands(rows_at(&stage, 0))
                ),
            );
        }
    }
}

impl Cluster {
    /// What a failed query means for the user: a value that is not a date, a path the
    /// executors cannot read, or the cluster's own message.
    fn query_error(&self, what: &str, e: datafusion::error::DataFusionError) -> anyhow::Error {
        let text = e.to_string();
        let paths = self.paths.borrow().join(", ");
        if let Some(rest) = text.split("Error parsing timestamp from '").nth(1) {
            let value = rest.split('\'').next().unwrap_or("");
            let format = rest
                .split("using format '")
                .nth(1)
                .and_then(|f| f.split('\'').next())
                .unwrap_or("");
            let columns: Vec<String> = self
                .dates
                .borrow()
                .iter()
                .filter(|(_, f)| f == format)
                .map(|(c, _)| format!("{c:?}"))
                .collect();
            let column = match columns.as_slice() {
                [one] => format!("column {one}"),
                [] => "a date column".to_string(),
                many => format!("one of the columns {}", many.join(", ")),
            };
            return anyhow!(
                "{column} under {paths}: {value:?} is not a date in format {format:?}; fix the value or set [input] date_format (the cluster stops at the first such value)"
            );
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("not found") || lower.contains("no such file") {
            return anyhow!(
                "the cluster's executors cannot read the input under {paths}: {text}; every executor must see the files at the same path (docs/distributed.md)"
            );
        }
        anyhow!("the cluster at {} failed while {what}: {text}", self.url)
    }
}

fn kind_of(t: &ArrowType) -> Kind {
    match t {
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => Kind::Text,
        ArrowType::Float16
        | ArrowType::Float32
        | ArrowType::Float64
        | ArrowType::Decimal128(..)
        | ArrowType::Decimal256(..) => Kind::Float,
        ArrowType::Int8
        | ArrowType::Int16
        | ArrowType::Int32
        | ArrowType::Int64
        | ArrowType::UInt8
        | ArrowType::UInt16
        | ArrowType::UInt32
        | ArrowType::UInt64 => Kind::Integer,
        ArrowType::Date32 | ArrowType::Date64 => Kind::Date,
        ArrowType::Timestamp(..) => Kind::Timestamp,
        _ => Kind::Other,
    }
}

/// Every mapped column must be in the table (`load::check_columns`).
fn check_columns(path: &Path, source: &Source, p: &Pipeline) -> Result<()> {
    for (role, name) in crate::load::mapped_columns(p) {
        if !source.columns.iter().any(|(n, _)| n == name) {
            let available: Vec<String> = source
                .columns
                .iter()
                .map(|(n, _)| format!("{n:?}"))
                .collect();
            return Err(InputError::MissingColumn {
                file: path.to_path_buf(),
                role: role.to_string(),
                column: name.to_string(),
                available: available.join(", "),
            }
            .into());
        }
    }
    Ok(())
}
