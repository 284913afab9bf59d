//! [`Error`]: why a controller step failed, naming the step and keeping the cause.

use crate::agent::AgentError;
use crate::client::ClientError;

/// Result of a controller step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a controller step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the resource API failed.
    #[error("cannot {step}: {source}")]
    Api {
        /// What the controller was doing (`list the App's Instances`).
        step: &'static str,
        /// The API's answer.
        #[source]
        source: ClientError,
    },
    /// A call to a node's agent failed.
    #[error("cannot {step} on node {node}: {source}")]
    Agent {
        /// What the controller was doing.
        step: &'static str,
        /// The node.
        node: String,
        /// The agent's answer.
        #[source]
        source: AgentError,
    },
    /// Some operations of a plan failed on the node (the others were applied).
    #[error("node {node} failed {} operation(s): {}", failures.len(), failures.join("; "))]
    PlanFailed {
        /// The node.
        node: String,
        /// One line per failed operation.
        failures: Vec<String>,
    },
    /// The API server URL is unusable.
    #[error("cannot use the API server: {0}")]
    Connect(#[source] ClientError),
}

/// Wraps a [`ClientError`] with the step that failed, for `map_err`.
pub fn api(step: &'static str) -> impl FnOnce(ClientError) -> Error {
    move |source| Error::Api { step, source }
}
