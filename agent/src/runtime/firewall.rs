//! Tenant isolation in the host firewall, on top of Docker's own.
//!
//! Docker keeps user bridges apart with its `DOCKER-ISOLATION-STAGE-*` chains, but every time a
//! network is created it deletes and re-inserts the `FORWARD` jump to them; a packet between two
//! bridges in that moment is accepted. So the agent keeps a chain of its own,
//! [`CHAIN`] in the mangle table, which Docker never touches and which the kernel consults
//! before the filter table: traffic of a managed bridge stays inside that bridge or leaves
//! toward the host's uplink, never toward another container bridge, in either direction.
//!
//! The chain is rewritten whole from the list of managed networks with one `iptables-restore`
//! (atomic: there is no moment without rules), under a host-wide file lock, so agents sharing a
//! host never undo each other's rules.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{Result, RuntimeError};

/// The mangle-table chain holding minicloud's isolation rules.
pub const CHAIN: &str = "MINICLOUD-ISOLATION";

/// Serialises rewrites of [`CHAIN`] between every agent on the host.
const LOCK_FILE: &str = "/run/minicloud-firewall.lock";

/// Docker's default bridge, which is not a `br-` interface.
const DEFAULT_BRIDGE: &str = "docker0";

/// The Linux bridge interface Docker creates for the network with this id.
pub fn bridge_name(network_id: &str) -> String {
    let short: String = network_id.chars().take(12).collect();
    format!("br-{short}")
}

/// A host-wide exclusive hold on rewriting [`CHAIN`]; released when dropped.
pub struct FirewallLock {
    _file: File,
}

/// Waits until no other agent on this host is rewriting [`CHAIN`].
pub async fn lock() -> Result<FirewallLock> {
    let path = if Path::new("/run").is_dir() {
        LOCK_FILE.to_owned()
    } else {
        std::env::temp_dir()
            .join("minicloud-firewall.lock")
            .display()
            .to_string()
    };
    tokio::task::spawn_blocking(move || {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| firewall_error(format!("open {path}: {e}")))?;
        file.lock()
            .map_err(|e| firewall_error(format!("lock {path}: {e}")))?;
        Ok(FirewallLock { _file: file })
    })
    .await
    .map_err(|e| firewall_error(e.to_string()))?
}

/// Replaces [`CHAIN`] with the rules for `bridges` and makes sure `FORWARD` jumps to it. Call
/// it holding [`lock`], with every managed network on the host.
pub async fn sync(bridges: &[String], _lock: &FirewallLock) -> Result<()> {
    for bridge in bridges {
        if !is_interface_name(bridge) {
            return Err(firewall_error(format!("{bridge:?} is not a bridge name")));
        }
    }
    restore(&restore_input(bridges)).await?;
    let jump = ["-t", "mangle", "-C", "FORWARD", "-j", CHAIN];
    if !iptables(&jump).await? {
        let insert = ["-t", "mangle", "-I", "FORWARD", "1", "-j", CHAIN];
        if !iptables(&insert).await? {
            return Err(firewall_error(format!(
                "iptables refused to jump to {CHAIN}"
            )));
        }
    }
    Ok(())
}

/// The `iptables-restore --noflush` input that declares (and so empties) [`CHAIN`] and fills it
/// with the isolation rules of every bridge.
pub fn restore_input(bridges: &[String]) -> String {
    let mut input = format!("*mangle\n:{CHAIN} - [0:0]\n");
    for bridge in bridges {
        let rule = |args: &str| format!("-A {CHAIN} {args}\n");
        input.push_str(&rule(&format!("-i {bridge} -o {bridge} -j RETURN")));
        for other in ["br-+", DEFAULT_BRIDGE] {
            input.push_str(&rule(&format!("-i {bridge} -o {other} -j DROP")));
            input.push_str(&rule(&format!("-i {other} -o {bridge} -j DROP")));
        }
    }
    input.push_str("COMMIT\n");
    input
}

/// An interface name iptables takes literally: at most 15 of `[A-Za-z0-9_.-]`.
fn is_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

async fn restore(input: &str) -> Result<()> {
    let mut child = Command::new("iptables-restore")
        .args(["--noflush", "--wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| firewall_error(format!("run iptables-restore: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(input.as_bytes())
        .await
        .map_err(|e| firewall_error(format!("write to iptables-restore: {e}")))?;
    drop(stdin);
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| firewall_error(format!("run iptables-restore: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(firewall_error(format!(
        "iptables-restore failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// Runs `iptables --wait args`; true on success, false when iptables answered no (a `-C` that
/// found nothing).
async fn iptables(args: &[&str]) -> Result<bool> {
    let output = Command::new("iptables")
        .arg("--wait")
        .args(args)
        .output()
        .await
        .map_err(|e| firewall_error(format!("run iptables: {e}")))?;
    Ok(output.status.success())
}

fn firewall_error(message: String) -> RuntimeError {
    RuntimeError::Firewall(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bridge_keeps_its_own_traffic_and_drops_traffic_to_and_from_other_bridges() {
        let input = restore_input(&["br-aaaaaaaaaaaa".to_owned()]);
        assert_eq!(
            input,
            "*mangle\n\
             :MINICLOUD-ISOLATION - [0:0]\n\
             -A MINICLOUD-ISOLATION -i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j RETURN\n\
             -A MINICLOUD-ISOLATION -i br-aaaaaaaaaaaa -o br-+ -j DROP\n\
             -A MINICLOUD-ISOLATION -i br-+ -o br-aaaaaaaaaaaa -j DROP\n\
             -A MINICLOUD-ISOLATION -i br-aaaaaaaaaaaa -o docker0 -j DROP\n\
             -A MINICLOUD-ISOLATION -i docker0 -o br-aaaaaaaaaaaa -j DROP\n\
             COMMIT\n"
        );
    }

    #[test]
    fn no_bridges_leave_an_empty_chain() {
        assert_eq!(
            restore_input(&[]),
            "*mangle\n:MINICLOUD-ISOLATION - [0:0]\nCOMMIT\n"
        );
    }

    #[test]
    fn the_bridge_of_a_network_is_named_after_the_first_12_characters_of_its_id() {
        assert_eq!(bridge_name("0123456789abcdef0123"), "br-0123456789ab");
    }

    #[test]
    fn only_plain_interface_names_reach_iptables() {
        assert!(is_interface_name("br-0123456789ab"));
        for bad in ["", "br-x -j ACCEPT", "br\nCOMMIT", "br-0123456789abcd"] {
            assert!(!is_interface_name(bad), "{bad:?}");
        }
    }
}
