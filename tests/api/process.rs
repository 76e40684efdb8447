//! memberd as operators run it: the built binary in a process of its own,
//! with its own environment and its logs read from its standard error. For
//! what only shows there: what is logged, and what the environment changes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Process {
    pub address: String,
    child: Child,
    logs: Arc<Mutex<String>>,
}

/// A port nobody listens on now (the process binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(database_url: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memberd"));
    let mail_dir = std::env::temp_dir().join("memberd-test-mail");
    command
        .env("DATABASE_URL", database_url)
        .env("MEMBERD_PUBLIC_URL", "http://memberd.test")
        .env("MEMBERD_MAIL_DIR", mail_dir)
        .env("MEMBERD_LOG_FORMAT", "json")
        // As in `helpers::config_for`: staff work in tests needs no second factor.
        .env("MEMBERD_STAFF_MFA", "optional")
        .env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

impl Process {
    /// `memberd serve` on a database of its own, ready to answer.
    pub async fn serve(database_url: &str, env: &[(&str, &str)]) -> Process {
        let port = free_port();
        let mut child = command(database_url, env)
            .arg("serve")
            .env("MEMBERD_BIND", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the memberd binary starts");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let process = Process {
            address: format!("http://127.0.0.1:{port}"),
            child,
            logs,
        };
        memberd::integration::webhooks::service::install_tls_provider();
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{}/health/ready", process.address))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return process;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "memberd did not start: {}",
                process.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs another subcommand to its end, and answers whether it succeeded.
    pub fn run(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> bool {
        command(database_url, env)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// Runs another subcommand to its end: its exit status, standard output and error.
    pub fn output(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
        command(database_url, env)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
