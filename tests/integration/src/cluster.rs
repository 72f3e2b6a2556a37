//! A PostgreSQL cluster of a test's own: made with `initdb`, started, and stopped (and removed)
//! when dropped. For what the shared test cluster cannot show: a brand-new cluster (no roles
//! yet), a server started with other settings or environment.

use std::path::PathBuf;
use std::process::Command;

use postgres::{Client, NoTls};

pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
}

fn pg_bin(tool: &str) -> PathBuf {
    let bin = std::env::var("GYM_BOOKING_PG_BIN").unwrap_or_else(|_| {
        panic!("GYM_BOOKING_PG_BIN is not set: run the integration tests through `bash scripts/test.sh`")
    });
    PathBuf::from(bin).join(tool)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a server-side program (initdb, pg_ctl) as a user the server accepts: `postgres` when
/// we are root, as scripts/common.sh does.
fn server_command(tool: &str) -> Command {
    if is_root() {
        let mut command = Command::new("sudo");
        command.args(["-u", "postgres", "--"]).arg(pg_bin(tool));
        command
    } else {
        Command::new(pg_bin(tool))
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    /// A new cluster named `name`, listening on `port` (loopback and a socket in its folder),
    /// started with the server `options` (`-c name=value ...`) and `env` in its environment.
    pub fn start(name: &str, port: u16, options: &str, env: &[(&str, &str)]) -> Cluster {
        let dir = std::env::temp_dir().join(format!("gym_booking_cluster_{name}_{port}"));
        let cluster = Cluster { dir, port };
        cluster.stop();
        std::fs::remove_dir_all(&cluster.dir).ok();
        std::fs::create_dir_all(cluster.dir.join("socket")).unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres"]).arg(&cluster.dir);
                    c
                },
                "chown the cluster's folder",
            );
        }
        let data = cluster.dir.join("data");
        let mut initdb = server_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        run(initdb, "initdb");
        let mut pg_ctl = server_command("pg_ctl");
        if is_root() {
            // sudo keeps only what it is told to keep: pass the environment as `env` does.
            pg_ctl = Command::new("sudo");
            pg_ctl.args(["-u", "postgres", "--", "env"]);
            pg_ctl.args(env.iter().map(|(k, v)| format!("{k}={v}")));
            pg_ctl.arg(pg_bin("pg_ctl"));
        } else {
            pg_ctl.envs(env.iter().copied());
        }
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.log())
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off {options}",
                cluster.dir.join("socket").display()
            ))
            .arg("start");
        run(pg_ctl, "start the cluster");
        cluster
    }

    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    pub fn connect(&self, dbname: &str) -> Client {
        let conn = format!(
            "host={} port={} user=postgres dbname={dbname}",
            self.dir.join("socket").display(),
            self.port
        );
        Client::connect(&conn, NoTls).unwrap_or_else(|e| panic!("connect to {dbname}: {e}"))
    }

    /// `pg_ctl stop -m <mode>` (smart, fast, immediate), waiting until the server is gone;
    /// how long that took.
    pub fn stop_timed(&self, mode: &str) -> std::time::Duration {
        let started = std::time::Instant::now();
        let mut pg_ctl = server_command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", mode, "-w", "-t", "120", "stop"]);
        run(pg_ctl, "stop the cluster");
        started.elapsed()
    }

    pub fn stop(&self) {
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let mut pg_ctl = server_command("pg_ctl");
            pg_ctl
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]);
            pg_ctl.output().ok();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A port for a test's own cluster: the shared test cluster's, plus `offset` (the test
/// command uses the next two ports for the standby and the package check).
pub fn port_after_test_cluster(offset: u16) -> u16 {
    let base: u16 = std::env::var("GYM_BOOKING_TEST_PORT")
        .expect("GYM_BOOKING_TEST_PORT")
        .parse()
        .expect("a port number");
    base + offset
}
