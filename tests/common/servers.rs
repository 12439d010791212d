//! Real servers for the object-store tests, started on 127.0.0.1 on free ports and
//! killed on drop: moto's S3 server and Python's `http.server`, both from the
//! project venv (`scripts/python-env.sh` installs `moto[server]`).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

/// The project venv's python (made on first use by `scripts/python-env.sh`).
pub fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .arg(root.join("scripts/python-env.sh"))
            .output()
            .expect("run scripts/python-env.sh");
        assert!(
            out.status.success(),
            "python env set-up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("python path")
            .trim()
            .to_string();
        PathBuf::from(path)
    })
}

/// Runs `code` with the venv's python and returns its stdout; panics with its
/// stderr if it fails.
pub fn py(code: &str) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The credentials every process of the tests uses against moto (which accepts
/// any). Set once, before the first server starts, in this process's environment,
/// which the workers a test starts inherit: credentials come from the environment
/// of whoever does the I/O, never from the graph.
pub fn test_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A server process, killed (and reaped) on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    pub port: u16,
}

impl Server {
    fn start(mut cmd: Command, port: u16) -> Server {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server");
        let mut s = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("server on port {port} exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// moto's S3 server from the venv.
    pub fn moto() -> Server {
        test_credentials();
        let port = free_port();
        let bin = python().with_file_name("moto_server");
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        Server::start(cmd, port)
    }

    /// moto's S3 server with authentication on (`INITIAL_NO_AUTH_ACTION_COUNT`):
    /// the first `free_actions` requests pass unchecked (to create an IAM user and
    /// its key), every later one must be signed with a key moto issued.
    pub fn moto_with_auth(free_actions: u32) -> Server {
        test_credentials();
        let port = free_port();
        let bin = python().with_file_name("moto_server");
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", free_actions.to_string());
        Server::start(cmd, port)
    }

    /// A Python server script `code` run with the venv's python as
    /// `python -c code PORT args...`, listening on 127.0.0.1:PORT.
    pub fn python_script(code: &str, args: &[&str]) -> Server {
        let port = free_port();
        let mut cmd = Command::new(python());
        cmd.args(["-c", code, &port.to_string()]).args(args);
        Server::start(cmd, port)
    }

    /// Python's `http.server` serving `dir` read-only, taught single byte-range
    /// requests (`Range: bytes=a-b`, `a-`, `-n`), which object stores and every
    /// production HTTP server answer and zarrs relies on.
    pub fn http(dir: &Path) -> Server {
        let port = free_port();
        let mut cmd = Command::new(python());
        cmd.args(["-c", HTTP_RANGE_SERVER, &port.to_string()])
            .arg(dir);
        Server::start(cmd, port)
    }

    /// [`Server::http`] that also appends one line per request to `log`
    /// (`GET /a.zarr/zarr.json`), written before the answer is sent, for tests
    /// that count requests.
    pub fn http_logged(dir: &Path, log: &Path) -> Server {
        let port = free_port();
        let mut cmd = Command::new(python());
        cmd.args(["-c", HTTP_RANGE_SERVER, &port.to_string()])
            .arg(dir)
            .arg(log);
        Server::start(cmd, port)
    }

    /// The Python expression of the keyword arguments s3fs (zarr-python's
    /// `storage_options`) and boto3 need to reach this moto server.
    pub fn s3fs_options(&self) -> String {
        format!(
            "dict(endpoint_url='{}', key='testing', secret='testing', \
             client_kwargs=dict(region_name='us-east-1'))",
            self.url
        )
    }

    /// Creates bucket `name` through boto3 (a dependency of moto).
    pub fn create_bucket(&self, name: &str) {
        py(&format!(
            "import boto3\n\
             boto3.client('s3', endpoint_url='{}', aws_access_key_id='testing', \
             aws_secret_access_key='testing', region_name='us-east-1')\
             .create_bucket(Bucket='{name}')",
            self.url
        ));
    }
}

const HTTP_RANGE_SERVER: &str = r#"
import functools, http.server, os, re, sys
LOG = sys.argv[3] if len(sys.argv) > 3 else None
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def log_request_line(self):
        if LOG:
            with open(LOG, 'a') as f:
                f.write(f'{self.command} {self.path}\n')
    def do_GET(self):
        self.log_request_line()
        super().do_GET()
    def do_HEAD(self):
        self.log_request_line()
        super().do_HEAD()
    def send_head(self):
        m = re.fullmatch(r'bytes=(\d*)-(\d*)', self.headers.get('Range', ''))
        if not m:
            return super().send_head()
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        data = open(path, 'rb').read()
        n = len(data)
        a, b = m.groups()
        if a == '':
            start, end = max(n - int(b), 0), n - 1
        else:
            start, end = int(a), min(int(b), n - 1) if b else n - 1
        if start >= n or start > end:
            self.send_response(416)
            self.send_header('Content-Range', f'bytes */{n}')
            self.end_headers()
            return None
        body = data[start:end + 1]
        self.send_response(206)
        self.send_header('Content-Range', f'bytes {start}-{end}/{n}')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        import io
        return io.BytesIO(body)
handler = functools.partial(H, directory=sys.argv[2])
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()
"#;

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
