//! `waypoint serve`: reads the settings (flags > `WAYPOINT_*` env > config
//! file > defaults), sets up logging and runs the gRPC server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::config::{ApiKey, ApiKeys, FileConfig, ServeConfig, TlsFiles, DEFAULT_ADDR};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Directory of the collections [default: ./waypoint-data].
    #[arg(long, env = "WAYPOINT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:6543]; port 0 picks a free port
    /// (the chosen one is printed as `listening on ADDR`).
    #[arg(long, env = "WAYPOINT_ADDR")]
    addr: Option<SocketAddr>,
    /// TOML config file (see the server docs for its keys).
    #[arg(long, env = "WAYPOINT_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `waypoint=debug` [default: info].
    #[arg(long, env = "WAYPOINT_LOG")]
    log: Option<String>,
    /// PEM certificate chain: serve TLS (needs --tls-key too).
    #[arg(long, env = "WAYPOINT_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "WAYPOINT_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Read-write API key: every call (except health) must then send
    /// `authorization: Bearer <key>`. Prefer the env variable or the config
    /// file: a flag is visible to other users in the process list.
    #[arg(long, env = "WAYPOINT_API_KEY", hide_env_values = true)]
    api_key: Option<ApiKey>,
    /// Read-only API key: searches, gets, counts and listings only; writes
    /// with it get PERMISSION_DENIED.
    #[arg(long, env = "WAYPOINT_READ_ONLY_API_KEY", hide_env_values = true)]
    read_only_api_key: Option<ApiKey>,
}

pub(crate) fn run(args: ServeArgs, _out: &mut impl Write) -> Result<(), CliError> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path).map_err(CliError::Config)?,
        None => FileConfig::default(),
    };
    let config = ServeConfig {
        data_dir: args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./waypoint-data")),
        addr: args
            .addr
            .or(file.addr)
            .unwrap_or_else(|| DEFAULT_ADDR.parse().expect("a valid default address")),
        log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
        tls: TlsFiles::from_pair(
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        )
        .map_err(CliError::Config)?,
        api_keys: ApiKeys::new(
            args.api_key.or(file.api_key),
            args.read_only_api_key.or(file.read_only_api_key),
        )
        .map_err(CliError::Config)?,
        limits: file.limits,
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| CliError::Config(format!("log filter {:?}: {e}", config.log)))?;
    // Colour only on a terminal: log files and collectors get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(crate::serve::run(config))?;
    Ok(())
}
