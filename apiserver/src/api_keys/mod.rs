//! API keys: their text and how it is kept ([`token`]: `mc_<tenant>_<prefix>_<secret>`, stored
//! as a salted hash), issuing them (the one way an ApiKey object comes to be) and checking a
//! presented one ([`Authenticator`]). Listing and revoking keys are plain list and delete calls;
//! the gRPC face is [`crate::grpc::GrpcKeys`].

mod authenticate;
mod issue;
pub mod token;

pub use authenticate::Authenticator;
pub use issue::IssuedKey;
pub(crate) use issue::issued_message;
pub use token::Token;
