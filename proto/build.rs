//! Generates the gRPC code from `minicloud/v1/*.proto` on every build (needs `protoc`, which
//! scripts/deps.sh installs).

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=minicloud");
    tonic_prost_build::configure().compile_protos(
        &[
            "minicloud/v1/resources.proto",
            "minicloud/v1/agent.proto",
            "minicloud/v1/logs.proto",
            "minicloud/v1/keys.proto",
            "minicloud/v1/secrets.proto",
            "minicloud/v1/audit.proto",
            "minicloud/v1/usage.proto",
            "minicloud/v1/metering.proto",
            "minicloud/v1/health.proto",
            "minicloud/v1/reconciles.proto",
        ],
        &["."],
    )
}
