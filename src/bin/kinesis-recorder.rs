//! `kinesis-recorder`: the recorder as a command-line tool for Linux and IoT
//! devices. Reads records from stdin, keeps them in a SQLite file, submits
//! them to Kinesis Data Streams or Firehose (the store's service).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kinesis_recorder::{
    AwsCredentials, CognitoCredentialsProvider, CredentialsProvider, Recorder, RecorderConfig, RecorderError,
    RecorderEvent, RecorderListener, RecorderStats, Service, SubmitReport, TlsRoots, WhenFull,
};

#[derive(Parser)]
#[command(
    name = "kinesis-recorder",
    version,
    about = "Offline-first recorder for Amazon Kinesis Data Streams and Amazon Data Firehose"
)]
struct Cli {
    /// Log what the recorder does to stderr (repeat for more: -vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store one record per stdin line; exit 0 if all were stored, 2 if any was rejected.
    Record {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        limits: Limits,
    },
    /// Submit everything pending (to the store's service); exit 0 only if nothing is left.
    Submit {
        #[arg(long)]
        db: String,
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        aggregation: Aggregation,
        /// Return by then at the latest (e.g. 500ms, 30s, 5m); what is not
        /// delivered by then stays pending.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        deadline: Duration,
    },
    /// Show pending records per stream and the counters.
    Status {
        #[arg(long)]
        db: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete all pending records.
    Clear {
        #[arg(long)]
        db: String,
    },
    /// Record stdin lines continuously and submit in the background; at end
    /// of input (or SIGINT / SIGTERM), submit what is left and exit.
    Run {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        limits: Limits,
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        aggregation: Aggregation,
        /// Submit this often while records are pending (e.g. 500ms, 30s, 5m).
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        interval: Duration,
        /// Submit at once when this many records are pending.
        #[arg(long, default_value_t = 500)]
        threshold_records: u64,
    },
}

#[derive(Args)]
struct Input {
    /// The SQLite file of the recorder.
    #[arg(long)]
    db: String,
    /// Service of a new store (an existing store keeps its own) [default: kinesis]
    #[arg(long, value_enum)]
    service: Option<ServiceArg>,
    /// Stream (Firehose: delivery stream) the records go to.
    #[arg(long)]
    stream: String,
    /// Partition key of every record (default: a random UUID per record). Not with Firehose.
    #[arg(long)]
    partition_key: Option<String>,
    /// Each line is base64; store the decoded bytes.
    #[arg(long)]
    base64: bool,
    /// End each record with a newline (one record per line once Firehose joins them in S3).
    #[arg(long)]
    newline_delimited: bool,
}

#[derive(Args)]
struct Limits {
    /// Upper bound of stored bytes (data + partition keys).
    #[arg(long, default_value_t = 5 * 1024 * 1024)]
    max_storage_bytes: u64,
    /// What to do when the store is full.
    #[arg(long, value_enum, default_value_t = WhenFullArg::DropOldest)]
    when_full: WhenFullArg,
    /// Drop records older than this (e.g. 7d, 12h).
    #[arg(long, value_parser = parse_duration)]
    max_record_age: Option<Duration>,
}

#[derive(Args)]
struct Endpoint {
    /// AWS region [env: AWS_REGION]
    #[arg(long)]
    region: Option<String>,
    /// Endpoint URL, e.g. http://127.0.0.1:4567 for a local server
    /// [env: AWS_ENDPOINT_URL_KINESIS or AWS_ENDPOINT_URL_FIREHOSE, then AWS_ENDPOINT_URL]
    #[arg(long)]
    endpoint: Option<String>,
    /// Certificates trusted for https (Cognito too): the system's (its CA bundle, or
    /// SSL_CERT_FILE / SSL_CERT_DIR), or Mozilla's roots built into the tool.
    #[arg(long, value_enum, default_value_t = TlsRootsArg::Platform)]
    tls_roots: TlsRootsArg,
    /// Sign with temporary credentials of this Amazon Cognito identity pool
    /// (guest identities) instead of AWS_ACCESS_KEY_ID; the identity id is kept
    /// next to the store [Cognito endpoint: AWS_ENDPOINT_URL_COGNITO_IDENTITY,
    /// AWS_ENDPOINT_URL]
    #[arg(long, value_name = "ID")]
    cognito_identity_pool_id: Option<String>,
}

#[derive(Args)]
struct Aggregation {
    /// Pack records into KPL aggregated records (Kinesis Data Streams; the
    /// consumers must de-aggregate: KCL, or a de-aggregation module in Lambda).
    #[arg(long)]
    aggregate: bool,
    /// Largest aggregated record, data + partition key [default: 25000, one
    /// 25 KB PUT payload unit].
    #[arg(long, requires = "aggregate")]
    aggregate_max_bytes: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum TlsRootsArg {
    Platform,
    Bundled,
}

#[derive(Clone, Copy, ValueEnum)]
enum WhenFullArg {
    DropOldest,
    RejectNew,
}

#[derive(Clone, Copy, ValueEnum)]
enum ServiceArg {
    Kinesis,
    Firehose,
}

impl From<ServiceArg> for Service {
    fn from(arg: ServiceArg) -> Service {
        match arg {
            ServiceArg::Kinesis => Service::KinesisDataStreams,
            ServiceArg::Firehose => Service::Firehose,
        }
    }
}

/// Why a command stopped: a usage mistake caught before anything was stored
/// or sent (exit 2, like a rejected line), or the recorder's error (exit 1).
enum Failure {
    Usage(String),
    Recorder(RecorderError),
}

impl From<RecorderError> for Failure {
    fn from(error: RecorderError) -> Self {
        Failure::Recorder(error)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("kinesis-recorder: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Recorder(error)) => {
            eprintln!("kinesis-recorder: {error}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "kinesis_recorder=info,warn",
        _ => "kinesis_recorder=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KINESIS_RECORDER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Record { input, limits } => {
            let mut config = config(&input.db, input.service()?, None)?;
            input.apply(&mut config);
            limits.apply(&mut config);
            config.auto_submit = false;
            let recorder = Recorder::new(config, Arc::new(EnvCredentials))?;
            let all_stored = record_lines(&recorder, &input, std::io::stdin().lock())?;
            recorder.flush()?;
            recorder.shutdown();
            Ok(if all_stored {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Submit {
            db,
            endpoint,
            aggregation,
            deadline,
        } => {
            let mut config = config(&db, store_service(&db, None)?, Some(&endpoint))?;
            aggregation.apply(&mut config);
            config.auto_submit = false;
            let credentials = credentials(&endpoint, &config)?;
            let recorder = Recorder::new(config, credentials)?;
            let pending = recorder.stats()?.pending_records;
            if std::io::stderr().is_terminal() {
                recorder.set_listener(Some(Arc::new(Progress::new(pending))));
            }
            let report = recorder.submit_all_records_within(deadline).await?;
            print_report(&report);
            recorder.shutdown();
            Ok(exit_for(&report))
        }
        Command::Status { db, json } => {
            let service = store_service(&db, None)?;
            let recorder = Recorder::new(config(&db, service, None)?.offline(), Arc::new(EnvCredentials))?;
            let stats = recorder.stats()?;
            let identity = CognitoCredentialsProvider::stored_identity(&db);
            if json {
                let mut json = stats_json(service, &stats);
                if let Some((pool, identity)) = identity {
                    json["cognito_identity"] = serde_json::json!({"identity_pool_id": pool, "identity_id": identity});
                }
                println!("{json}");
            } else {
                println!("service: {service}");
                print_stats(&stats);
                if let Some((pool, identity)) = identity {
                    println!("cognito identity: {identity} (pool {pool})");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Clear { db } => {
            let config = config(&db, store_service(&db, None)?, None)?;
            let recorder = Recorder::new(config.offline(), Arc::new(EnvCredentials))?;
            let deleted = recorder.delete_all_records()?;
            println!("deleted {deleted} records");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            input,
            limits,
            endpoint,
            aggregation,
            interval,
            threshold_records,
        } => {
            let mut config = config(&input.db, input.service()?, Some(&endpoint))?;
            input.apply(&mut config);
            limits.apply(&mut config);
            aggregation.apply(&mut config);
            config.submit_interval = interval;
            config.submit_threshold_records = threshold_records;
            let credentials = credentials(&endpoint, &config)?;
            let recorder = Arc::new(Recorder::new(config, credentials)?);
            recorder.set_listener(Some(Arc::new(LogEvents)));
            // Lines are read on a plain thread: stdin blocks.
            let reader = {
                let recorder = recorder.clone();
                std::thread::spawn(move || record_lines(&recorder, &input, std::io::stdin().lock()))
            };
            let all_stored = tokio::select! {
                result = tokio::task::spawn_blocking(move || reader.join()) => {
                    result.ok().and_then(|r| r.ok()).unwrap_or(Ok(false))?
                }
                _ = shutdown_signal() => {
                    eprintln!("kinesis-recorder: interrupted; submitting what is stored");
                    true
                }
            };
            recorder.flush()?;
            let report = recorder.submit_all_records().await?;
            print_report(&report);
            recorder.shutdown();
            Ok(if !all_stored {
                ExitCode::from(2)
            } else {
                exit_for(&report)
            })
        }
    }
}

/// Saves each line of `lines`; a rejected line is reported with its number
/// and skipped. Returns whether every line was stored.
fn record_lines(recorder: &Recorder, input: &Input, mut lines: impl BufRead) -> Result<bool, RecorderError> {
    let mut all_stored = true;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .map_err(|e| RecorderError::InvalidInput {
                reason: format!("cannot read stdin: {e}"),
            })?;
        if read == 0 {
            return Ok(all_stored);
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let data = if input.base64 {
            match base64::engine::general_purpose::STANDARD.decode(&line) {
                Ok(data) => data,
                Err(e) => {
                    eprintln!("line {number}: invalid base64: {e}");
                    all_stored = false;
                    continue;
                }
            }
        } else {
            line.clone()
        };
        let save = || recorder.save_record(data.clone(), &input.stream, input.partition_key.clone());
        let result = match save() {
            // The CLI can afford to wait for the disk; an app thread would not.
            Err(RecorderError::Overloaded { .. }) => recorder.flush().and_then(|_| save()),
            other => other,
        };
        match result {
            Ok(()) => {}
            Err(error @ (RecorderError::InvalidInput { .. } | RecorderError::StorageFull { .. })) => {
                eprintln!("line {number}: {error}");
                all_stored = false;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The service of the store at `db`: its own, else `wanted`, else Kinesis.
/// A `wanted` service the store does not belong to is a usage mistake.
fn store_service(db: &str, wanted: Option<Service>) -> Result<Service, Failure> {
    match (Recorder::store_service(db)?, wanted) {
        (Some(stored), Some(wanted)) if stored != wanted => Err(Failure::Usage(format!(
            "{db} is a {stored} store, not a {wanted} one: leave out --service, or give another --db"
        ))),
        (stored, wanted) => Ok(stored.or(wanted).unwrap_or_default()),
    }
}

impl Input {
    /// The service `record` and `run` save for, checked against the store
    /// and the flags before anything is stored.
    fn service(&self) -> Result<Service, Failure> {
        let service = store_service(&self.db, self.service.map(Service::from))?;
        if service == Service::Firehose && self.partition_key.is_some() {
            return Err(Failure::Usage(format!(
                "{service} records have no partition key: leave out --partition-key"
            )));
        }
        Ok(service)
    }

    fn apply(&self, config: &mut RecorderConfig) {
        config.newline_delimited = self.newline_delimited;
    }
}

fn config(db: &str, service: Service, endpoint: Option<&Endpoint>) -> Result<RecorderConfig, RecorderError> {
    let region = endpoint
        .and_then(|e| e.region.clone())
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"));
    let mut config = RecorderConfig::for_service(service, db, region.clone().unwrap_or_else(|| "us-east-1".into()));
    if let Some(endpoint) = endpoint {
        if region.is_none() {
            return Err(RecorderError::InvalidInput {
                reason: "no region: pass --region or set AWS_REGION".into(),
            });
        }
        let service_variable = match service {
            Service::KinesisDataStreams => "AWS_ENDPOINT_URL_KINESIS",
            Service::Firehose => "AWS_ENDPOINT_URL_FIREHOSE",
        };
        config.endpoint = endpoint
            .endpoint
            .clone()
            .or_else(|| env(service_variable))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        config.tls_roots = match endpoint.tls_roots {
            TlsRootsArg::Platform => TlsRoots::Platform,
            TlsRootsArg::Bundled => TlsRoots::Bundled,
        };
    }
    Ok(config)
}

/// A Cognito identity pool's guest credentials when one is given, else the
/// environment's keys.
fn credentials(endpoint: &Endpoint, config: &RecorderConfig) -> Result<Arc<dyn CredentialsProvider>, RecorderError> {
    let Some(pool) = &endpoint.cognito_identity_pool_id else {
        return Ok(Arc::new(EnvCredentials));
    };
    let mut provider = CognitoCredentialsProvider::new(pool.as_str(), &config.region)?;
    if let Some(url) = env("AWS_ENDPOINT_URL_COGNITO_IDENTITY").or_else(|| env("AWS_ENDPOINT_URL")) {
        provider = provider.with_endpoint(&url)?;
    }
    Ok(Arc::new(provider))
}

trait Offline {
    fn offline(self) -> Self;
}

impl Offline for RecorderConfig {
    /// For commands that only look at the store.
    fn offline(mut self) -> Self {
        self.auto_submit = false;
        self
    }
}

impl Limits {
    fn apply(&self, config: &mut RecorderConfig) {
        config.max_storage_bytes = self.max_storage_bytes;
        config.when_full = match self.when_full {
            WhenFullArg::DropOldest => WhenFull::DropOldest,
            WhenFullArg::RejectNew => WhenFull::RejectNew,
        };
        config.max_record_age = self.max_record_age;
        // Let small stores work: a record must fit in the store.
        config.max_record_bytes = config.max_record_bytes.min(self.max_storage_bytes);
    }
}

impl Aggregation {
    fn apply(&self, config: &mut RecorderConfig) {
        config.aggregation = self.aggregate;
        config.max_aggregate_bytes = self
            .aggregate_max_bytes
            // A small store lowers the record limit, and the default with it.
            .unwrap_or(config.max_aggregate_bytes.min(config.max_record_bytes));
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`, read when a request needs them.
struct EnvCredentials;

#[async_trait::async_trait]
impl CredentialsProvider for EnvCredentials {
    async fn credentials(&self) -> Result<AwsCredentials, RecorderError> {
        match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token: env("AWS_SESSION_TOKEN"),
                expiration: None,
            }),
            _ => Err(RecorderError::Credentials {
                reason: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            }),
        }
    }
}

/// `2h`, `30s`, `500ms`, `7d`, `15m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 5m, 2h, 7d"))?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" | "" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}; use ms, s, m, h or d")),
    };
    if number == 0 {
        return Err("the duration must be greater than 0".into());
    }
    Ok(Duration::from_millis(number.saturating_mul(unit_ms)))
}

/// Prints submission progress on a terminal.
struct Progress {
    total: u64,
    done: AtomicU64,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress {
            total,
            done: AtomicU64::new(0),
        }
    }
}

impl RecorderListener for Progress {
    fn on_event(&self, event: RecorderEvent) {
        if let RecorderEvent::RecordsSubmitted { count, .. } = event {
            let done = self.done.fetch_add(count, Ordering::Relaxed) + count;
            eprint!("\rsubmitted {done} of {} records", self.total);
            let _ = std::io::stderr().flush();
        }
    }
}

/// `run` reports failures and drops on stderr as they happen.
struct LogEvents;

impl RecorderListener for LogEvents {
    fn on_event(&self, event: RecorderEvent) {
        match event {
            RecorderEvent::SubmissionFailed {
                stream_name,
                code,
                message,
                will_retry,
                ..
            } => eprintln!(
                "submission of {stream_name} failed ({}): {message}{}",
                code.as_deref().unwrap_or("no code"),
                if will_retry { "; will retry" } else { "" }
            ),
            RecorderEvent::RecordsDropped {
                stream_name,
                reason,
                count,
            } => {
                eprintln!("dropped {count} records of {stream_name}: {reason}")
            }
            _ => {}
        }
    }
}

fn print_report(report: &SubmitReport) {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    for error in &report.errors {
        eprintln!(
            "{}: {}{}",
            error.stream_name,
            error.code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default(),
            error.message
        );
    }
    if report.network_unavailable {
        eprintln!("network unavailable: nothing sent");
    }
    if report.deadline_reached {
        eprintln!("deadline reached: the rest stays pending");
    }
    println!(
        "submitted {} records in {} requests ({} Kinesis records); {} retried, {} dropped, {} pending",
        report.records_submitted,
        report.requests,
        report.kinesis_records_submitted,
        report.records_retried,
        report.records_dropped,
        report.records_remaining
    );
}

fn exit_for(report: &SubmitReport) -> ExitCode {
    if report.records_remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_stats(stats: &RecorderStats) {
    println!(
        "pending: {} records, {} bytes{}",
        stats.pending_records,
        stats.pending_bytes,
        stats
            .oldest_pending_age
            .map(|a| format!(", oldest {}", human(a)))
            .unwrap_or_default()
    );
    for stream in &stats.streams {
        println!(
            "  {}: {} records, {} bytes{}{}",
            stream.stream_name,
            stream.pending_records,
            stream.pending_bytes,
            stream
                .oldest_pending_age
                .map(|a| format!(", oldest {}", human(a)))
                .unwrap_or_default(),
            stream
                .last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
    println!(
        "submitted {} records in {} Kinesis records; requests: {} answered, {} failed; records retried {}, throttled {}",
        stats.records_submitted,
        stats.kinesis_records_submitted,
        stats.requests_sent,
        stats.requests_failed,
        stats.records_retried,
        stats.records_throttled
    );
    println!(
        "dropped: {} storage full, {} expired, {} attempts exhausted, {} deleted",
        stats.records_dropped_storage_full,
        stats.records_dropped_expired,
        stats.records_dropped_attempts_exhausted,
        stats.records_dropped_deleted
    );
}

fn stats_json(service: Service, stats: &RecorderStats) -> serde_json::Value {
    let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
    // The value `--service` takes.
    let service = match service {
        Service::KinesisDataStreams => "kinesis",
        Service::Firehose => "firehose",
    };
    serde_json::json!({
        "service": service,
        "pending_records": stats.pending_records,
        "pending_bytes": stats.pending_bytes,
        "oldest_pending_age_ms": ms(stats.oldest_pending_age),
        "streams": stats.streams.iter().map(|s| serde_json::json!({
            "stream_name": s.stream_name,
            "pending_records": s.pending_records,
            "pending_bytes": s.pending_bytes,
            "oldest_pending_age_ms": ms(s.oldest_pending_age),
            "last_error": s.last_error,
        })).collect::<Vec<_>>(),
        "records_submitted": stats.records_submitted,
        "kinesis_records_submitted": stats.kinesis_records_submitted,
        "records_retried": stats.records_retried,
        "records_throttled": stats.records_throttled,
        "requests_sent": stats.requests_sent,
        "requests_failed": stats.requests_failed,
        "records_dropped": {
            "storage_full": stats.records_dropped_storage_full,
            "expired": stats.records_dropped_expired,
            "attempts_exhausted": stats.records_dropped_attempts_exhausted,
            "deleted": stats.records_dropped_deleted,
        },
    })
}

fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
