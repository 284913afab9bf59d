//! Snapshot and restore throughput on a real 1 GiB volume of mixed files (thousands of small
//! text files, MB-size compressible files, random data), beside `tar | zstd -T0 -3` and
//! `zstd -d -T0 | tar -x` on the same data; prints a markdown table. Needs root and loop
//! devices. Run by scripts/bench-snapshot.sh.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minicloud_agent::runtime::fake::FakeRuntime;
use minicloud_agent::snapshot::progress::Progress;
use minicloud_agent::snapshot::{SnapshotStore, Snapshots, VolumeUsers, restore, take};
use minicloud_agent::storage::host;
use minicloud_agent::storage::layout::Layout;
use minicloud_proto::v1::SnapshotArchive;
use rand::RngCore;
use tokio_util::sync::CancellationToken;

const MIB: u64 = 1 << 20;
/// The image is larger than the content: ext4's metadata and the small files' blocks.
const IMAGE_BYTES: u64 = 1536 * MIB;

#[tokio::main]
async fn main() {
    let dir = tempfile::Builder::new()
        .prefix("bench-snapshot-")
        .tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
        .expect("a scratch directory for the benchmark");
    let layout = Layout::new(dir.path());
    let paths = layout.volume("bench", "data");
    fs::create_dir_all(&paths.mount).unwrap();
    host::make_image(&paths.image, IMAGE_BYTES, 0)
        .await
        .unwrap();
    host::mount_image(&paths.image, &paths.mount, false)
        .await
        .unwrap();
    let result = run(dir.path(), &layout).await;
    let _ = host::unmount(&paths.mount).await;
    let baseline_mount = dir.path().join("baseline/mnt");
    if host::is_mounted(&baseline_mount).await {
        let _ = host::unmount(&baseline_mount).await;
    }
    print!("{result}");
}

async fn run(dir: &Path, layout: &Layout) -> String {
    let paths = layout.volume("bench", "data");
    fs::create_dir(&paths.data).unwrap();
    let content = fill(&paths.data);
    sync();
    let store = SnapshotStore::from_url(dir.join("store").to_str().unwrap()).unwrap();
    let snapshots = Snapshots::new(layout.clone(), store);
    let (progress, cancel) = (Progress::discarded(), CancellationToken::new());

    let started = Instant::now();
    let taken = take::take(
        &snapshots,
        "bench",
        "data",
        "bench/data/s1",
        &progress,
        &cancel,
    )
    .await
    .unwrap();
    let take_time = started.elapsed();

    let archive = SnapshotArchive {
        location: "bench/data/s1".into(),
        sha256: taken.sha256.clone(),
    };
    let users = VolumeUsers::new(Arc::new(FakeRuntime::new()));
    let started = Instant::now();
    restore::in_place(
        &snapshots,
        &users,
        ("bench", "data"),
        &archive,
        &progress,
        &cancel,
    )
    .await
    .unwrap();
    let restore_time = started.elapsed();
    // Room for the baseline's copies: the benchmark needs about 2.5 GB at its peak.
    snapshots.store.delete("bench/data/s1").await.unwrap();

    let tar_file = dir.join("baseline.tar.zst");
    let pack = format!(
        "tar -C {} -cf - . | zstd -q -T0 -3 > {}",
        paths.data.display(),
        tar_file.display()
    );
    let tar_pack = shell(&pack);
    let baseline_image = dir.join("baseline/disk.img");
    let baseline_mount = dir.join("baseline/mnt");
    fs::create_dir_all(&baseline_mount).unwrap();
    host::make_image(&baseline_image, IMAGE_BYTES, 0)
        .await
        .unwrap();
    host::mount_image(&baseline_image, &baseline_mount, false)
        .await
        .unwrap();
    let target = baseline_mount.join("data");
    fs::create_dir(&target).unwrap();
    let unpack = format!(
        "zstd -q -d -T0 < {} | tar -C {} -xf -",
        tar_file.display(),
        target.display()
    );
    let tar_unpack = shell(&unpack);
    let tar_bytes = fs::metadata(&tar_file).unwrap().len();
    table(
        content,
        &taken,
        (take_time, restore_time),
        (tar_pack, tar_unpack, tar_bytes),
    )
}

/// Fills `data` with ~1 GiB: 5000 small text files, 32 compressible 10 MiB files and ten
/// 64 MiB random files; returns the content bytes.
fn fill(data: &Path) -> u64 {
    let mut total = 0;
    fs::create_dir(data.join("small")).unwrap();
    for i in 0..5000u64 {
        let text = format!("record {i}: the quick brown fox jumps over the lazy dog\n")
            .repeat(20 + (i % 100) as usize);
        total += text.len() as u64;
        fs::write(data.join(format!("small/{i}.txt")), text).unwrap();
    }
    fs::create_dir(data.join("text")).unwrap();
    for i in 0..32u64 {
        let mut text = String::with_capacity(10 * MIB as usize);
        let mut line = 0u64;
        while (text.len() as u64) < 10 * MIB {
            let value = line.wrapping_mul(2654435761) % 1_000_003;
            text.push_str(&format!(
                "{i},{line},user-{value},status=ok,latency_ms={}\n",
                value % 977
            ));
            line += 1;
        }
        total += text.len() as u64;
        fs::write(data.join(format!("text/{i}.csv")), text).unwrap();
    }
    fs::create_dir(data.join("random")).unwrap();
    let mut random = vec![0u8; 64 * MIB as usize];
    for i in 0..10 {
        rand::rng().fill_bytes(&mut random);
        total += random.len() as u64;
        fs::write(data.join(format!("random/{i}.bin")), &random).unwrap();
    }
    total
}

fn sync() {
    Command::new("sync").status().unwrap();
}

/// Runs `script` in `sh`, returning how long it took.
fn shell(script: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh").args(["-c", script]).status().unwrap();
    assert!(status.success(), "{script} failed");
    started.elapsed()
}

fn table(
    content: u64,
    taken: &take::Taken,
    (take_time, restore_time): (Duration, Duration),
    (tar_pack, tar_unpack, tar_bytes): (Duration, Duration, u64),
) -> String {
    let rate = |time: Duration| content as f64 / 1e6 / time.as_secs_f64();
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let ratio = |ours: Duration, theirs: Duration| rate(ours) / rate(theirs);
    let mut out = format!(
        "Content: {:.0} MB in 5042 files (5000 small text, 32 × 10 MiB text, 10 × 64 MiB random) \
         on a {} MiB loop-mounted ext4 volume; {} cores.\n\n",
        mb(content),
        IMAGE_BYTES / MIB,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    out.push_str("| operation | time (s) | content MB/s | archive MB | writers paused (ms) | vs tar+zstd |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    out.push_str(&format!(
        "| minicloud snapshot (freeze, copy, thaw, tar+zstd -3 to the local store) | {:.2} | {:.0} | {:.0} | {} | {:.2}× |\n",
        take_time.as_secs_f64(),
        rate(take_time),
        mb(taken.archive_bytes),
        taken.pause.as_millis(),
        ratio(take_time, tar_pack)
    ));
    out.push_str(&format!(
        "| `tar -cf - . \\| zstd -T0 -3` | {:.2} | {:.0} | {:.0} | – | 1.00× |\n",
        tar_pack.as_secs_f64(),
        rate(tar_pack),
        mb(tar_bytes)
    ));
    out.push_str(&format!(
        "| minicloud restore in place (new image, unpack, SHA-256 check, swap) | {:.2} | {:.0} | – | – | {:.2}× |\n",
        restore_time.as_secs_f64(),
        rate(restore_time),
        ratio(restore_time, tar_unpack)
    ));
    out.push_str(&format!(
        "| `zstd -d -T0 \\| tar -xf -` (into an empty mounted volume) | {:.2} | {:.0} | – | – | 1.00× |\n",
        tar_unpack.as_secs_f64(),
        rate(tar_unpack)
    ));
    out
}
