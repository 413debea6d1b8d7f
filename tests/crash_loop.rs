//! Crash loop: the CLI is killed with SIGKILL at random moments, again and
//! again, on the same store, while it records, submits in the background
//! (`run`) or drains (`submit`) to kinesalite; then a final `submit` drains
//! what is left and the official SDK reads the stream back.
//!
//! A line is *confirmed durable* when a `record` run that contained it exited
//! 0 (the CLI exits 0 only after every record is committed). Every confirmed
//! line must be read back (losses must be 0). Lines of killed runs are not
//! confirmed: they may or may not arrive, but nothing that was never sent may
//! arrive. Duplicates are allowed (at-least-once: a batch delivered but not
//! yet deleted when the kill came is sent again) and bounded by the in-flight
//! batches: at most 500 per kill.
//!
//! CI runs 60 kills (about 30 s). Longer manual run:
//! `CRASH_LOOP_KILLS=1000 cargo test --test crash_loop -- --nocapture`
//! (`CRASH_LOOP_SEED=n` replays a schedule).

mod harness;
mod support;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

const STREAM: &str = "crash";

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Victim {
    /// `run`: stdin lines stored and submitted in the background.
    Run,
    /// `submit`: draining the backlog.
    Submit,
    /// `record`: storing stdin lines.
    Record,
}

#[tokio::test]
async fn sigkill_at_random_moments_loses_no_confirmed_record() {
    let target_kills = env_u64("CRASH_LOOP_KILLS").unwrap_or(60).max(1);
    let seed = env_u64("CRASH_LOOP_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    println!("crash loop: seed {seed} (CRASH_LOOP_SEED={seed} replays it), {target_kills} kills");
    let mut rng = StdRng::seed_from_u64(seed);

    let server = Server::kinesalite();
    let sdk = test_client(&server.endpoint);
    create_stream(&sdk, STREAM, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let db = db.to_str().unwrap().to_owned();
    let endpoint = server.endpoint.clone();
    let online = ["--region", "us-east-1", "--endpoint", endpoint.as_str()];

    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut confirmed: Vec<String> = Vec::new();
    let mut next_line = 0u64;
    let mut fresh_lines = |n: u64, sent: &Mutex<HashSet<String>>| -> Vec<String> {
        let lines: Vec<String> = (next_line..next_line + n)
            .map(|i| format!("crash-line-{i:09}"))
            .collect();
        next_line += n;
        sent.lock().unwrap().extend(lines.iter().cloned());
        lines
    };

    let started = Instant::now();
    let mut kills: HashMap<Victim, u64> = HashMap::new();
    let mut exited_before_kill = 0u64;
    let mut total_kills = 0u64;
    while total_kills < target_kills {
        // A run that completes: its lines are confirmed durable.
        let lines = fresh_lines(rng.random_range(20..200), &sent);
        let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let output = run_cli(&["record", "--db", &db, "--stream", STREAM], input.as_bytes());
        assert_eq!(
            output.status.code(),
            Some(0),
            "record after {total_kills} kills failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        confirmed.extend(lines);

        // A run that is killed.
        let victim = match rng.random_range(0..10) {
            0..=4 => Victim::Run,
            5..=7 => Victim::Submit,
            _ => Victim::Record,
        };
        let args: Vec<&str> = match victim {
            Victim::Run => [
                &[
                    "run",
                    "--db",
                    &db,
                    "--stream",
                    STREAM,
                    "--interval",
                    "50ms",
                    "--threshold-records",
                    "40",
                ][..],
                &online[..],
            ]
            .concat(),
            Victim::Submit => [&["submit", "--db", &db][..], &online[..]].concat(),
            Victim::Record => vec!["record", "--db", &db, "--stream", STREAM],
        };
        let mut child = cli_command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let feeding = Arc::new(AtomicBool::new(true));
        let feeder = child.stdin.take().map(|mut stdin| {
            let lines: Vec<Vec<String>> = (0..rng.random_range(1..40)).map(|_| fresh_lines(25, &sent)).collect();
            let feeding = feeding.clone();
            let pause = Duration::from_millis(rng.random_range(1..8));
            std::thread::spawn(move || {
                if victim == Victim::Submit {
                    return; // `submit` reads no stdin: keep the pipe open
                }
                for chunk in lines {
                    if !feeding.load(Ordering::SeqCst) {
                        return;
                    }
                    let text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
                    if stdin.write_all(text.as_bytes()).is_err() {
                        return;
                    }
                    std::thread::sleep(pause);
                }
                // Keep stdin open until the kill: `run` must not reach its end of input.
                while feeding.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        });
        let delay = match victim {
            Victim::Submit => rng.random_range(0..120),
            _ => rng.random_range(0..250),
        };
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            *kills.entry(victim).or_default() += 1;
            total_kills += 1;
        } else {
            exited_before_kill += 1;
        }
        child.wait().unwrap();
        feeding.store(false, Ordering::SeqCst);
        if let Some(feeder) = feeder {
            feeder.join().unwrap();
        }
    }
    let loop_time = started.elapsed();

    // Final drain: the store must open, and everything must go.
    let mut drained = false;
    for _ in 0..5 {
        let output = run_cli(&[&["submit", "--db", &db][..], &online[..]].concat(), b"");
        if output.status.code() == Some(0) {
            drained = true;
            break;
        }
        eprintln!("final submit: {}", String::from_utf8_lossy(&output.stderr));
    }
    assert!(drained, "the final submit never emptied the store");
    assert_eq!(pending(&db), 0);

    let read = read_stream(&sdk, STREAM).await;
    let sent = sent.lock().unwrap().clone();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut foreign = Vec::new();
    for (_, data) in &read {
        let line = String::from_utf8_lossy(data).into_owned();
        if !sent.contains(&line) {
            foreign.push(line.clone());
        }
        *seen.entry(line).or_default() += 1;
    }
    let lost: Vec<&String> = confirmed.iter().filter(|l| !seen.contains_key(*l)).collect();
    let duplicates: u64 = seen.values().map(|n| n - 1).sum();
    let unconfirmed_arrived = seen.len() as u64 - confirmed.len() as u64 + lost.len() as u64 - foreign.len() as u64;
    let mut by_kind: Vec<_> = kills.iter().collect();
    by_kind.sort();
    println!(
        "crash loop: {total_kills} kills, {} confirmed, {} lost, {duplicates} duplicates",
        confirmed.len(),
        lost.len()
    );
    println!(
        "crash loop: kills by victim {by_kind:?}, {exited_before_kill} runs ended before their kill, \
         {unconfirmed_arrived} unconfirmed lines arrived, {} records read, loop {loop_time:.1?}, total {:.1?}",
        read.len(),
        started.elapsed()
    );
    assert!(
        lost.is_empty(),
        "{} confirmed lines lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(
        foreign.is_empty(),
        "records that were never sent arrived: {:?}",
        &foreign[..foreign.len().min(5)]
    );
    assert!(
        duplicates <= total_kills * 500,
        "{duplicates} duplicates for {total_kills} kills: more than one in-flight batch per kill"
    );
}
