//! `mini delete KIND NAME | -f FILE`: delete objects by name, or every object the manifests
//! define. A missing object is reported and counted as a failure, and the rest still go.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use minicloud_manifests::Kind;
use minicloud_proto::v1::{DeleteResponse, ObjectRef};

use super::get::parse_kind;
use crate::client::{Client, ConnectArgs};
use crate::files;
use crate::{object, output};

/// Flags of `mini delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The kind, singular or plural, in any case.
    #[arg(value_parser = parse_kind, required_unless_present = "files")]
    kind: Option<Kind>,
    /// The names of the objects to delete.
    names: Vec<String>,
    /// Delete every object defined in these manifests (a file, a directory, or -).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        conflicts_with = "kind"
    )]
    files: Vec<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Deletes each object, one line each; exits non-zero when any could not be deleted.
pub async fn run(args: DeleteArgs) -> Result<ExitCode> {
    let targets = targets(&args)?;
    let mut client = Client::connect(&args.connect).await?;
    let mut failed = false;
    for (kind, target) in targets {
        let label = object::label(kind, &target.name);
        let target = ObjectRef {
            tenant: match target.tenant.is_empty() {
                true => client.tenant_for(kind),
                false => target.tenant,
            },
            ..target
        };
        match client.delete(target).await {
            Ok(response) => output::print(&format!("{label} {}\n", outcome(&response)))?,
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The objects to delete: named on the command line, or defined in the manifests (whose own
/// tenant wins over `--tenant`; "" means the client's tenant).
fn targets(args: &DeleteArgs) -> Result<Vec<(Kind, ObjectRef)>> {
    let target = |kind: Kind, tenant: &str, name: &str| {
        let reference = ObjectRef {
            kind: kind.as_str().to_owned(),
            tenant: tenant.to_owned(),
            name: name.to_owned(),
        };
        (kind, reference)
    };
    match args.kind {
        Some(_) if args.names.is_empty() => bail!("name the objects to delete, or use -f FILE"),
        Some(kind) => Ok(args
            .names
            .iter()
            .map(|name| target(kind, "", name))
            .collect()),
        None => Ok(files::load(&args.files)?
            .iter()
            .map(|m| {
                let resource = &m.resource;
                target(
                    resource.kind(),
                    resource.tenant().unwrap_or(""),
                    resource.name(),
                )
            })
            .collect()),
    }
}

fn outcome(response: &DeleteResponse) -> String {
    if !response.finalizing {
        return "deleted".to_owned();
    }
    let finalizers = response
        .object
        .as_ref()
        .and_then(|object| crate::client::decode(object).ok())
        .map(|object| object::cell(&object, "/metadata/finalizers"))
        .unwrap_or_default();
    format!("deletion requested (waiting for finalizers: {finalizers})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_proto::v1::Object;

    #[test]
    fn a_plain_delete_says_deleted() {
        assert_eq!(outcome(&DeleteResponse::default()), "deleted");
    }

    #[test]
    fn a_finalizing_delete_names_the_finalizers() {
        let object = r#"{"metadata": {"finalizers": ["minicloud/volume", "x/y"]}}"#;
        let response = DeleteResponse {
            object: Some(Object {
                json: object.into(),
            }),
            finalizing: true,
        };
        assert_eq!(
            outcome(&response),
            "deletion requested (waiting for finalizers: minicloud/volume,x/y)"
        );
    }
}
