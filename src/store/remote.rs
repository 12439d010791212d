//! Zarr arrays in object stores (S3, GCS, Azure) and on HTTP servers: locations
//! written as URLs, the [`StoreOptions`] that travel with them, and the one shared
//! tokio runtime that turns `object_store`'s async requests into the blocking reads
//! and writes the executor threads make.
//!
//! A location is still a `&Path` everywhere in this module's API (a task graph's
//! `ReadZarr`/`WriteZarr` carries it as a string): a path whose text starts with
//! `scheme://` is a URL. The non-secret options ride in the URL's fragment
//! (`s3://bucket/a.zarr#endpoint=http%3A%2F%2F127.0.0.1%3A9000&path_style=true`), so
//! the graph carries the URL and its options only. Credentials never do: each process
//! that does I/O (the client, every worker) reads its own from its environment
//! (`AWS_ACCESS_KEY_ID`, `GOOGLE_APPLICATION_CREDENTIALS`, `AZURE_STORAGE_*`, web
//! identity and instance metadata), as `object_store`'s `from_env` builders do.
//!
//! Requests: one `object_store` client per bucket (per host for HTTP) and options,
//! shared by every array in it, behind a [`LimitStore`] bounding its concurrent
//! requests; retries with exponential backoff on 5xx, throttling and dropped
//! connections, and a per-request timeout (`object_store`'s retry layer).

use super::StoreError;
use object_store::limit::LimitStore;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use url::Url;
use zarrs::storage::storage_adapter::async_to_sync::{
    AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
};
use zarrs::storage::{
    byte_range::{ByteRange, ByteRangeIterator},
    AsyncReadableStorageTraits, Bytes, ListableStorageTraits, MaybeBytes, MaybeBytesIterator,
    OffsetBytesIterator, ReadableStorageTraits, ReadableWritableListableStorageTraits,
    StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};
use zarrs_object_store::AsyncObjectStore;

/// How to reach an object store, beyond what its URL says. None of these is a
/// secret: they travel with the URL in task graphs (see the module docs). The
/// defaults suit the public clouds; an S3-compatible server (`MinIO`, Ceph, moto)
/// usually needs `endpoint`, `allow_http` and `path_style`.
///
/// zarr-python/fsspec users know these as `client_kwargs={"endpoint_url": ...,
/// "region_name": ...}`, `anon=True` and `config_kwargs={"s3": {"addressing_style":
/// "path"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOptions {
    /// The service endpoint, e.g. `http://127.0.0.1:9000` (S3 and Azure; for GCS, the
    /// base URL). `None`: the cloud's own, or the environment's (`AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// The region (S3). `None`: the environment's (`AWS_REGION`), else `us-east-1`.
    pub region: Option<String>,
    /// Send unsigned requests (public buckets); no credentials are looked up.
    pub anonymous: bool,
    /// Allow plain `http://` endpoints (off by default: credentials would travel in
    /// clear).
    pub allow_http: bool,
    /// S3 path-style addressing (`endpoint/bucket/key`) instead of virtual-hosted
    /// style (`bucket.endpoint/key`).
    pub path_style: bool,
    /// The most requests in flight at once to one bucket (one host for HTTP) from
    /// this process.
    pub max_concurrent_requests: usize,
    /// How often a failed request (5xx, throttling, dropped connection, timeout) is
    /// retried, with exponential backoff from 100 ms up to 15 s.
    pub max_retries: usize,
    /// The time limit of one request, in milliseconds (a stalled body counts).
    pub request_timeout_ms: u64,
}

impl Default for StoreOptions {
    /// Signed requests over HTTPS to the cloud's own endpoint; 64 concurrent
    /// requests, 10 retries, 30 s per request.
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            anonymous: false,
            allow_http: false,
            path_style: false,
            max_concurrent_requests: 64,
            max_retries: 10,
            request_timeout_ms: 30_000,
        }
    }
}

impl StoreOptions {
    /// The location string for `url` with these options attached (in its fragment),
    /// for [`DArray::from_zarr`](crate::DArray::from_zarr),
    /// [`DArray::to_zarr`](crate::DArray::to_zarr) and the store functions. Options
    /// equal to the defaults are left out, so `StoreOptions::default().locate(u)` is
    /// `u` itself for a URL, and a plain path is returned unchanged.
    ///
    /// ```
    /// use darray::StoreOptions;
    /// let opts = StoreOptions { path_style: true, ..StoreOptions::default() };
    /// let loc = opts.locate("s3://bucket/a.zarr").unwrap();
    /// assert_eq!(loc, "s3://bucket/a.zarr#path_style=true");
    /// ```
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for a URL whose scheme darray cannot reach, or
    /// which does not parse; [`StoreError::InvalidOptions`] for options given with a
    /// plain path (they would be ignored).
    pub fn locate(&self, url: &str) -> Result<String, StoreError> {
        let fragment = self.to_fragment();
        match locate(Path::new(url))? {
            Location::Local(_) if !fragment.is_empty() => Err(StoreError::InvalidOptions {
                path: PathBuf::from(url),
                reason: "store options apply to object-store URLs only".to_string(),
            }),
            Location::Local(_) => Ok(url.to_string()),
            Location::Remote(mut r) => {
                r.options = self.clone();
                Ok(location_string(&r))
            }
        }
    }

    pub(super) fn to_fragment(&self) -> String {
        let d = Self::default();
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        if let Some(e) = &self.endpoint {
            f.append_pair("endpoint", e);
        }
        if let Some(r) = &self.region {
            f.append_pair("region", r);
        }
        for (key, value, default) in [
            ("anonymous", self.anonymous, d.anonymous),
            ("allow_http", self.allow_http, d.allow_http),
            ("path_style", self.path_style, d.path_style),
        ] {
            if value != default {
                f.append_pair(key, &value.to_string());
            }
        }
        for (key, value, default) in [
            (
                "max_concurrent_requests",
                self.max_concurrent_requests as u64,
                d.max_concurrent_requests as u64,
            ),
            ("max_retries", self.max_retries as u64, d.max_retries as u64),
            (
                "request_timeout_ms",
                self.request_timeout_ms,
                d.request_timeout_ms,
            ),
        ] {
            if value != default {
                f.append_pair(key, &value.to_string());
            }
        }
        f.finish()
    }

    fn from_fragment(fragment: &str) -> Result<Self, String> {
        let mut o = Self::default();
        for (key, value) in url::form_urlencoded::parse(fragment.as_bytes()) {
            let flag = || {
                value
                    .parse::<bool>()
                    .map_err(|_| format!("option `{key}` must be true or false, not `{value}`"))
            };
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("option `{key}` must be a whole number, not `{value}`"))
            };
            match key.as_ref() {
                "endpoint" => o.endpoint = Some(value.to_string()),
                "region" => o.region = Some(value.to_string()),
                "anonymous" => o.anonymous = flag()?,
                "allow_http" => o.allow_http = flag()?,
                "path_style" => o.path_style = flag()?,
                "max_concurrent_requests" => {
                    o.max_concurrent_requests = usize::try_from(number()?.max(1)).unwrap_or(1);
                }
                "max_retries" => o.max_retries = usize::try_from(number()?).unwrap_or(usize::MAX),
                "request_timeout_ms" => o.request_timeout_ms = number()?,
                other => return Err(format!("unknown store option `{other}`")),
            }
        }
        Ok(o)
    }
}

/// The kind of service a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Service {
    S3,
    Gcs,
    Azure,
    /// Read-only.
    Http,
}

/// Where an array lives.
pub(super) enum Location {
    /// A directory on a (possibly shared) filesystem.
    Local(PathBuf),
    Remote(Remote),
}

/// An array in an object store or on an HTTP server.
#[derive(Clone, Debug)]
pub(super) struct Remote {
    /// The array's URL, without fragment.
    pub(super) url: Url,
    pub(super) service: Service,
    pub(super) options: StoreOptions,
    /// Set for a member of a group opened through the group's consolidated metadata
    /// (the fragment's `consolidated=<member path>`, see `consolidated.rs`): the
    /// member's path inside the group, whose URL is `url` without that suffix.
    pub(super) consolidated: Option<String>,
}

/// The scheme of `text` if it starts like a URL (`scheme://`).
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some(scheme)
}

/// True if `location` is written as a URL (`scheme://...`, `file://` included): a
/// location that is never relative to a working directory.
#[must_use]
pub fn is_url(location: &str) -> bool {
    scheme_of(location).is_some()
}

/// True if `path` is written as a URL (other than `file://`).
pub(super) fn is_remote(path: &Path) -> bool {
    path.to_str()
        .and_then(scheme_of)
        .is_some_and(|s| !s.eq_ignore_ascii_case("file"))
}

/// Parses a location: a plain path, a `file://` URL, or an object-store URL.
///
/// # Errors
/// [`StoreError::UnsupportedUrl`] for an unknown scheme or a URL that does not
/// parse, or whose fragment holds unknown or invalid options.
pub(super) fn locate(path: &Path) -> Result<Location, StoreError> {
    let Some(text) = path.to_str() else {
        return Ok(Location::Local(path.to_path_buf()));
    };
    let Some(scheme) = scheme_of(text) else {
        return Ok(Location::Local(path.to_path_buf()));
    };
    let unsupported = |reason: String| StoreError::UnsupportedUrl {
        url: text.to_string(),
        reason,
    };
    let mut url = Url::parse(text).map_err(|e| unsupported(e.to_string()))?;
    let service = match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            return url
                .to_file_path()
                .map(Location::Local)
                .map_err(|()| unsupported("not a local file URL".to_string()))
        }
        "s3" | "s3a" => Service::S3,
        "gs" | "gcs" => Service::Gcs,
        "az" | "azure" | "abfs" | "abfss" | "adl" => Service::Azure,
        "http" | "https" => Service::Http,
        other => {
            return Err(unsupported(format!(
                "scheme `{other}` is not supported (use a path, file://, s3://, gs://, \
                 az://, abfs://, http:// or https://)"
            )))
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(unsupported("the URL names no bucket or host".to_string()));
    }
    let (options, consolidated) = split_fragment(url.fragment().unwrap_or(""));
    let options = StoreOptions::from_fragment(&options).map_err(unsupported)?;
    url.set_fragment(None);
    // `a.zarr/` and `a.zarr` are the same array.
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    if let Some(member) = &consolidated {
        let inside = member
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
        if !inside || !url.path().ends_with(&format!("/{member}")) {
            return Err(unsupported(format!(
                "option `consolidated={member}` must name the URL's own last path segments"
            )));
        }
    }
    Ok(Location::Remote(Remote {
        url,
        service,
        options,
        consolidated,
    }))
}

/// Splits a location's fragment into the store options and the `consolidated`
/// member path, which is not a store option but part of the location.
fn split_fragment(fragment: &str) -> (String, Option<String>) {
    let mut options = url::form_urlencoded::Serializer::new(String::new());
    let mut consolidated = None;
    for (key, value) in url::form_urlencoded::parse(fragment.as_bytes()) {
        if key == "consolidated" {
            consolidated = Some(value.trim_matches('/').to_string());
        } else {
            options.append_pair(&key, &value);
        }
    }
    (options.finish(), consolidated)
}

/// The location string of `r`: its URL, with its options (if any) in the fragment.
pub(super) fn location_string(r: &Remote) -> String {
    let mut fragment = r.options.to_fragment();
    if let Some(member) = &r.consolidated {
        let pair = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("consolidated", member)
            .finish();
        fragment = if fragment.is_empty() {
            pair
        } else {
            format!("{fragment}&{pair}")
        };
    }
    if fragment.is_empty() {
        r.url.to_string()
    } else {
        format!("{}#{fragment}", r.url)
    }
}

/// What [`runtime`] hands out: its handle, or why it could not start.
static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// The process's one I/O runtime, started on first use. Its two threads drive the
/// sockets and timers of every request; the executor threads only wait.
fn runtime() -> Result<tokio::runtime::Handle, String> {
    RUNTIME
        .get_or_init(|| {
            // reqwest is built without a TLS provider of its own (see Cargo.toml):
            // ring's, as the rest of darray. Already installed (by us or the
            // application) is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("darray-io")
                .enable_all()
                .build()
                .map_err(|e| format!("starting the I/O runtime: {e}"))
        })
        .as_ref()
        .map(|rt| rt.handle().clone())
        .map_err(Clone::clone)
}

/// Runs zarrs' async store calls to completion on the calling thread, with the I/O
/// runtime's reactor and timers. Unlike `Handle::block_on`, this does not panic when
/// the caller is itself inside an async context (a distributed worker running a
/// task inline, an application's `#[tokio::main]`): the future is polled here, its
/// sockets are driven by the I/O runtime's threads.
pub(super) struct IoBlockOn(tokio::runtime::Handle);

impl AsyncToSyncBlockOn for IoBlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        let _context = self.0.enter();
        futures_executor::block_on(future)
    }
}

/// One client per service, bucket (host) and options, shared by all arrays in it,
/// so its request limit is the process's limit for that bucket.
type Clients = HashMap<(Service, String, String), Arc<dyn ObjectStore>>;
static CLIENTS: OnceLock<Mutex<Clients>> = OnceLock::new();

/// The bucket-level client for `r` (made on first use), and the key prefix of the
/// array within it.
fn client(r: &Remote) -> Result<(Arc<dyn ObjectStore>, object_store::path::Path), StoreError> {
    let origin = match r.service {
        Service::Http => r.url.origin().ascii_serialization(),
        _ => format!(
            "{}://{}",
            r.url.scheme(),
            &r.url[url::Position::BeforeUsername..url::Position::AfterPort]
        ),
    };
    let prefix = object_store::path::Path::from_url_path(r.url.path()).map_err(|e| {
        StoreError::UnsupportedUrl {
            url: r.url.to_string(),
            reason: e.to_string(),
        }
    })?;
    let key = (r.service, origin.clone(), r.options.to_fragment());
    let clients = CLIENTS.get_or_init(Mutex::default);
    if let Some(c) = clients.lock().get(&key) {
        return Ok((Arc::clone(c), prefix));
    }
    let made = build(r, &origin).map_err(|e| StoreError::Remote {
        url: r.url.to_string(),
        reason: e.to_string(),
    })?;
    let limited: Arc<dyn ObjectStore> = Arc::new(LimitStore::new(
        made,
        r.options.max_concurrent_requests.max(1),
    ));
    Ok((
        Arc::clone(clients.lock().entry(key).or_insert(limited)),
        prefix,
    ))
}

/// Builds the client for `r`'s bucket at `origin`, credentials from the
/// environment (unless anonymous).
fn build(r: &Remote, origin: &str) -> object_store::Result<Box<dyn ObjectStore>> {
    let o = &r.options;
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: o.max_retries,
        retry_timeout: Duration::from_mins(3),
    };
    let client = ClientOptions::new()
        .with_allow_http(o.allow_http)
        .with_timeout(Duration::from_millis(o.request_timeout_ms.max(1)))
        .with_connect_timeout(Duration::from_secs(5));
    Ok(match r.service {
        Service::S3 => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_url(origin)
                .with_allow_http(o.allow_http)
                .with_retry(retry)
                .with_client_options(client)
                .with_skip_signature(o.anonymous)
                .with_virtual_hosted_style_request(!o.path_style);
            if let Some(e) = &o.endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(reg) = &o.region {
                b = b.with_region(reg);
            }
            Box::new(b.build()?)
        }
        Service::Gcs => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(origin)
                .with_retry(retry)
                .with_client_options(client)
                .with_skip_signature(o.anonymous);
            if let Some(e) = &o.endpoint {
                b = b.with_base_url(e);
            }
            Box::new(b.build()?)
        }
        Service::Azure => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(origin)
                .with_allow_http(o.allow_http)
                .with_retry(retry)
                .with_client_options(client)
                .with_skip_signature(o.anonymous);
            if let Some(e) = &o.endpoint {
                b = b.with_endpoint(e.clone());
            }
            Box::new(b.build()?)
        }
        Service::Http => Box::new(
            object_store::http::HttpBuilder::new()
                .with_url(origin)
                .with_retry(retry)
                .with_client_options(client.with_allow_http(true))
                .build()?,
        ),
    })
}

type AsyncStore = AsyncObjectStore<PrefixStore<Arc<dyn ObjectStore>>>;

/// The storage zarrs reads and writes an array at `r` through: the bucket's client,
/// under the array's key prefix, made blocking by the I/O runtime.
///
/// zarrs' blocking adapter reads a whole object as a byte range from 0, which
/// `zarrs_object_store` answers with a HEAD (the object's size) and then a GET:
/// two round trips for every chunk and metadata document. Here a whole object
/// (`get`, or a partial read of whole objects) is the one GET; everything else is
/// the adapter's.
pub(super) struct RemoteStorage {
    adapter: AsyncToSyncStorageAdapter<AsyncStore, IoBlockOn>,
    store: Arc<AsyncStore>,
    block_on: IoBlockOn,
}

impl ReadableStorageTraits for RemoteStorage {
    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        self.block_on
            .block_on(AsyncReadableStorageTraits::get(&*self.store, key))
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        // A partial decoder asking for whole objects (an edge chunk's subset) needs
        // no size: one GET, not a HEAD and a GET.
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        if ranges
            .iter()
            .all(|r| matches!(r, ByteRange::FromStart(0, None)))
        {
            let Some(bytes) = self.get(key)? else {
                return Ok(None);
            };
            return Ok(Some(Box::new(
                ranges.into_iter().map(move |_| Ok(bytes.clone())),
            )));
        }
        self.adapter
            .get_partial_many(key, Box::new(ranges.into_iter()))
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.adapter.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.adapter.supports_get_partial()
    }
}

impl ListableStorageTraits for RemoteStorage {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.adapter.list()
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.adapter.list_prefix(prefix)
    }

    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.adapter.list_dir(prefix)
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.adapter.size_prefix(prefix)
    }
}

impl WritableStorageTraits for RemoteStorage {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        self.adapter.set(key, value)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        self.adapter.set_partial_many(key, offset_values)
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.adapter.erase(key)
    }

    fn erase_many(&self, keys: &[StoreKey]) -> Result<(), StorageError> {
        self.adapter.erase_many(keys)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.adapter.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        self.adapter.supports_set_partial()
    }
}

/// The storage of the array at `r` (keys relative to the array).
pub(super) fn storage(r: &Remote) -> Result<Arc<RemoteStorage>, StoreError> {
    let handle = runtime().map_err(|reason| StoreError::Remote {
        url: r.url.to_string(),
        reason,
    })?;
    let (client, prefix) = client(r)?;
    let store = Arc::new(AsyncObjectStore::new(PrefixStore::new(client, prefix)));
    Ok(Arc::new(RemoteStorage {
        adapter: AsyncToSyncStorageAdapter::new(Arc::clone(&store), IoBlockOn(handle.clone())),
        store,
        block_on: IoBlockOn(handle),
    }))
}

/// [`storage`] as the trait object the rest of the module uses.
pub(super) fn dyn_storage(
    r: &Remote,
) -> Result<Arc<dyn ReadableWritableListableStorageTraits>, StoreError> {
    Ok(storage(r)?)
}
