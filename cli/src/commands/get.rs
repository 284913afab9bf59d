//! `mini get KIND [NAME]`: list a kind's objects or show one, as a table, YAML or JSON; with
//! `-w`, keep printing changes as they happen (see [`super::watch`]).

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::Args;
use minicloud_manifests::Kind;
use serde_json::Value;

use super::watch::{self, WatchOptions};
use crate::client::{Client, ConnectArgs};
use crate::output::columns::Columns;
use crate::output::{self, Format, table};

/// Flags of `mini get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The kind, singular or plural, in any case: app, apps, App, instances, …
    #[arg(value_parser = parse_kind)]
    kind: Kind,
    /// One object's name; all objects of the kind when omitted.
    name: Option<String>,
    /// How to print: table, wide (more columns), yaml or json.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
    /// Keep printing changes. With -o json, one compact event per line:
    /// {"type": "ADDED|MODIFIED|DELETED", "object": {...}}.
    #[arg(short = 'w', long)]
    watch: bool,
    /// With -w: print only the changes after this resourceVersion (resume an earlier watch).
    #[arg(long, requires = "watch", value_name = "RV")]
    resource_version: Option<String>,
    /// With -w -o json: also print BOOKMARK events
    /// ({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "RV"}}}), which mark
    /// where to resume from; skipped by default.
    #[arg(long, requires = "watch")]
    bookmarks: bool,
    /// Only objects whose labels match, e.g. `team=blue,tier!=db,canary`.
    #[arg(short = 'l', long, value_name = "SELECTOR", conflicts_with = "name")]
    selector: Option<String>,
    /// Objects of every tenant (adds a TENANT column).
    #[arg(short = 'A', long, conflicts_with = "name")]
    all_tenants: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl GetArgs {
    fn into_watch(self, tenant: String, columns: Columns) -> WatchOptions {
        WatchOptions {
            kind: self.kind,
            tenant,
            selector: self.selector.unwrap_or_default(),
            name: self.name,
            format: self.output,
            columns,
            resource_version: self.resource_version,
            bookmarks: self.bookmarks,
        }
    }
}

/// Parses a kind as users write it on the command line.
pub fn parse_kind(text: &str) -> Result<Kind, String> {
    text.parse::<Kind>().map_err(|error| error.to_string())
}

/// Prints the objects, or watches them.
pub async fn run(args: GetArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let tenant = match args.all_tenants {
        true => "*".to_owned(),
        false => client.tenant_for(args.kind),
    };
    let columns = Columns::new(args.kind, args.output == Format::Wide, args.all_tenants);
    if args.watch {
        return watch::run(&mut client, args.into_watch(tenant, columns)).await;
    }
    let objects = match &args.name {
        Some(name) => vec![client.get(client.object_ref(args.kind, name)).await?],
        None => {
            let selector = args.selector.as_deref().unwrap_or_default();
            client.list(args.kind, tenant, selector).await?
        }
    };
    if objects.is_empty() && matches!(args.output, Format::Table | Format::Wide) {
        eprintln!(
            "{}",
            nothing_found(args.kind, client.tenant(), args.all_tenants)
        );
        return Ok(ExitCode::SUCCESS);
    }
    output::print(&render(
        &objects,
        args.output,
        &columns,
        args.name.is_some(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn render(objects: &[Value], format: Format, columns: &Columns, single: bool) -> String {
    match format {
        Format::Table | Format::Wide => {
            let now = SystemTime::now();
            let rows: Vec<Vec<String>> = objects.iter().map(|o| columns.row(o, now)).collect();
            table::render(&columns.header(), &rows)
        }
        Format::Yaml => output::yaml_stream(objects),
        Format::Json => output::json(objects, single) + "\n",
    }
}

fn nothing_found(kind: Kind, tenant: &str, all_tenants: bool) -> String {
    match (kind.scope(), all_tenants) {
        (minicloud_manifests::Scope::Cluster, _) => format!("No {} found.", kind.plural()),
        (_, true) => format!("No {} found in any tenant.", kind.plural()),
        (_, false) => format!("No {} found in tenant {tenant:?}.", kind.plural()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_are_accepted_in_every_spelling_and_unknown_ones_listed() {
        assert_eq!(parse_kind("apps"), Ok(Kind::App));
        assert!(parse_kind("pods").unwrap_err().contains("valid kinds are"));
    }

    #[test]
    fn an_empty_listing_names_the_tenant() {
        assert_eq!(
            nothing_found(Kind::App, "acme", false),
            "No apps found in tenant \"acme\"."
        );
        assert_eq!(nothing_found(Kind::Node, "acme", false), "No nodes found.");
    }

    #[test]
    fn a_table_has_a_header_and_a_row_per_object() {
        let app = json!({"kind": "App", "metadata": {"name": "web"}, "spec": {"image": "x"}});
        let columns = Columns::new(Kind::App, false, false);
        let text = render(&[app], Format::Table, &columns, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NAME") && lines[1].starts_with("web"),
            "{text}"
        );
    }
}
