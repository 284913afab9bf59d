//! `mini events [--for KIND/NAME] [-w]`: what happened to a tenant's Apps and Instances — each
//! scheduled, started, ready, unhealthy, restarted, rolled back or deleted — read from the
//! condition changes and restart counts in their statuses. `-w` prints each new event as the
//! objects change.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Result, bail};
use clap::Args;
use futures::StreamExt;
use minicloud_manifests::Kind;
use minicloud_proto::object_labels;
use minicloud_proto::v1::{EventType, WatchRequest};
use serde_json::Value;

use super::get::parse_kind;
use crate::client::{self, Client, ConnectArgs, RequestFailed};
use crate::object;
use crate::output::{self, events};

/// The kinds whose statuses tell what happened.
const KINDS: [Kind; 2] = [Kind::App, Kind::Instance];

/// Flags of `mini events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Only the events of one object, as KIND/NAME (`app/web` includes its instances).
    #[arg(long = "for", value_name = "KIND/NAME", value_parser = parse_target)]
    target: Option<(Kind, String)>,
    /// Keep printing new events as they happen.
    #[arg(short, long)]
    watch: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn parse_target(text: &str) -> Result<(Kind, String), String> {
    let (kind, name) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not KIND/NAME, e.g. app/web"))?;
    let kind = parse_kind(kind)?;
    if !KINDS.contains(&kind) {
        return Err(format!(
            "events are kept for apps and instances, not {}",
            kind.plural()
        ));
    }
    Ok((kind, name.to_owned()))
}

/// Which objects' events to show.
struct Filter {
    target: Option<(Kind, String)>,
}

impl Filter {
    /// The label selector to list or watch `kind` with.
    fn selector(&self, kind: Kind) -> String {
        match &self.target {
            Some((Kind::App, app)) if kind == Kind::Instance => {
                format!("{}={app}", object_labels::APP)
            }
            _ => String::new(),
        }
    }

    /// Whether this filter looks at `kind` at all.
    fn covers(&self, kind: Kind) -> bool {
        match &self.target {
            Some((Kind::Instance, _)) => kind == Kind::Instance,
            _ => true,
        }
    }

    fn admits(&self, kind: Kind, object: &Value) -> bool {
        match &self.target {
            Some((target, name)) if *target == kind => object::name(object) == name,
            _ => true,
        }
    }
}

/// Prints the events, then follows them with `-w`.
pub async fn run(args: EventsArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let filter = Filter {
        target: args.target,
    };
    if args.watch {
        return follow(&mut client, &filter).await;
    }
    let mut objects = Vec::new();
    for kind in KINDS.into_iter().filter(|kind| filter.covers(*kind)) {
        let tenant = client.tenant_for(kind);
        let listed = client.list(kind, tenant, &filter.selector(kind)).await?;
        objects.extend(listed.into_iter().filter(|o| filter.admits(kind, o)));
    }
    if let Some((kind, name)) = &filter.target
        && !objects.iter().any(|o| object::name(o) == name)
    {
        bail!(
            "{} {name:?} not found in tenant {:?}",
            kind.as_str(),
            client.tenant()
        );
    }
    let recorded = events::recorded(&objects);
    output::print(&format!(
        "{}\n",
        events::table(&recorded, SystemTime::now())
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the recorded events of the objects as they are, then one line per new event.
async fn follow(client: &mut Client, filter: &Filter) -> Result<ExitCode> {
    let mut streams = Vec::new();
    for kind in KINDS.into_iter().filter(|kind| filter.covers(*kind)) {
        let request = WatchRequest {
            kind: kind.as_str().to_owned(),
            tenant: client.tenant_for(kind),
            label_selector: filter.selector(kind),
            resource_version: String::new(),
        };
        let stream = client.watch(request).await?;
        streams.push(stream.map(move |event| (kind, event)).boxed());
    }
    let mut merged = futures::stream::select_all(streams);
    let mut seen: HashMap<(Kind, String), Value> = HashMap::new();
    let mut listing: HashMap<Kind, Vec<Value>> = HashMap::new();
    let mut synced: HashSet<Kind> = HashSet::new();
    while let Some((kind, event)) = merged.next().await {
        let event = event.map_err(RequestFailed::from)?;
        let change = event.r#type();
        if change == EventType::Bookmark {
            if synced.insert(kind) {
                let listed = listing.remove(&kind).unwrap_or_default();
                for event in events::recorded(&listed) {
                    output::print(&events::line(&event))?;
                }
            }
            continue;
        }
        let Some(object) = event.object.as_ref() else {
            continue;
        };
        let object = client::decode(object)?;
        if !filter.admits(kind, &object) {
            continue;
        }
        let key = (kind, object::name(&object).to_owned());
        if !synced.contains(&kind) {
            listing.entry(kind).or_default().push(object.clone());
            seen.insert(key, object);
            continue;
        }
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let happened = match (change, seen.get(&key)) {
            (EventType::Deleted, _) => vec![events::deleted(&object, &now)],
            (_, Some(before)) => events::changes(before, &object, &now),
            (_, None) => events::recorded([&object]),
        };
        for event in &happened {
            output::print(&events::line(event))?;
        }
        match change {
            EventType::Deleted => seen.remove(&key),
            _ => seen.insert(key, object),
        };
    }
    Ok(ExitCode::SUCCESS)
}
