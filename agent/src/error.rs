//! The agent's error type: what went wrong while applying an operation, observing the node or
//! registering it, with the cause kept.

use crate::container_config::ConfigError;
use crate::logs::LogStoreError;
use crate::runtime::RuntimeError;
use crate::storage::volumes::VolumeError;

/// Everything that can fail in the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container engine failed or refused.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A StartInstance could not be turned into a container.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A volume could not be made, attached, grown or removed on the host.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A Docker volume of the name exists without a size limit (an agent before size limits
    /// made it); binding an image under it would hide its data, using it would be unlimited.
    #[error(
        "Docker volume {0} exists without a size limit (an earlier agent made it); copy its data \
         out and remove it (docker volume rm {0}), then ensure the volume again"
    )]
    UnlimitedVolume(String),
    /// The snapshot store named at start cannot be used.
    #[error("the snapshot store cannot be opened: {0}")]
    SnapshotStore(String),
    /// An operation left a required field empty.
    #[error("the operation has no {0}")]
    MissingField(&'static str),
    /// A plan entry carried no operation.
    #[error("the operation is empty; set one of its fields")]
    EmptyOperation,
    /// A StartInstance needs a network or volume that does not exist yet.
    #[error("{0} does not exist on this node; ensure it before starting the instance")]
    MissingDependency(String),
    /// Another instance's container holds the container name.
    #[error(
        "container name {name} is taken by instance uid {uid}; remove that instance's container \
         first"
    )]
    NameTaken {
        /// The container name.
        name: String,
        /// The instance uid on the container holding it.
        uid: String,
    },
    /// A network cannot go while containers use it.
    #[error("network {network} still has containers attached: {containers}")]
    NetworkInUse {
        /// The network name.
        network: String,
        /// The attached containers' names.
        containers: String,
    },
    /// The kept logs cannot be opened or written.
    #[error(transparent)]
    LogStore(#[from] LogStoreError),
    /// The Node could not be encoded as JSON.
    #[error("cannot encode the Node object: {0}")]
    EncodeNode(#[source] serde_json::Error),
    /// The API server refused or could not be reached while registering the Node.
    #[error("registering the node failed: {0}")]
    RegisterFailed(#[source] tonic::Status),
    /// The API server refused or could not be reached while updating the Node's status.
    #[error("updating the node's status failed: {0}")]
    HeartbeatFailed(#[source] tonic::Status),
}

/// The result of an agent call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The gRPC status a client sees for this error: the one place agent errors become codes.
    pub fn to_status(&self) -> tonic::Status {
        let message = self.to_string();
        match self {
            Error::Runtime(RuntimeError::Unreachable(_)) => tonic::Status::unavailable(message),
            Error::Runtime(RuntimeError::NotFound(_)) => tonic::Status::not_found(message),
            Error::Config(_)
            | Error::MissingField(_)
            | Error::EmptyOperation
            | Error::Volume(VolumeError::InvalidName { .. }) => {
                tonic::Status::invalid_argument(message)
            }
            _ => tonic::Status::failed_precondition(message),
        }
    }
}
