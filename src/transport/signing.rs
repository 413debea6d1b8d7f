//! SigV4 signing of one request with `aws-sigv4`: the headers to send,
//! `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token` included, at
//! the time the caller gives (the device's clock, corrected for skew).

use std::time::SystemTime;

use aws_sigv4::http_request::{sign as sigv4_sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::credentials::AwsCredentials;
use super::wire::Api;

/// The full header list of a signed POST of `body` to `url`.
pub(crate) fn sign(
    url: &reqwest::Url,
    region: &str,
    api: &Api,
    credentials: &AwsCredentials,
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        credentials.expiration,
        "kinesis-recorder",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(api.signing_name)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let mut headers = vec![
        ("content-type".to_owned(), api.content_type.to_owned()),
        ("x-amz-target".to_owned(), api.target.to_owned()),
    ];
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sigv4_sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    headers.extend(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())));
    Ok(headers)
}
