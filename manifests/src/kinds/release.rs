//! Release: an immutable record of one App revision; rolling back re-applies one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::app::AppSpec;
use super::object_kind;
use crate::meta::BasicStatus;

object_kind!(
    /// One revision of an App, written by the app controller and never changed.
    Release, tag: ReleaseKind, spec: ReleaseSpec, status: BasicStatus
);

/// What the revision consists of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseSpec {
    /// The App this is a revision of.
    pub app: String,
    /// Revision number, counting from 1 per App.
    pub revision: u64,
    /// Hash of `appSpec`, to tell whether an App spec change needs a new release.
    pub spec_hash: String,
    /// The App spec at this revision, defaults applied.
    pub app_spec: AppSpec,
    /// The image digest resolved when the release was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
}
