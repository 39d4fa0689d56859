//! A fixed JSON answer through spin-sdk's usual path (`Request` in, `Response` out): what any
//! spin-sdk 5 component costs in a host that instantiates it per request.
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    Ok(Response::builder().status(200).header("content-type", "application/json").body(r#"{"issuer":"http://127.0.0.1/floor","ok":true}"#).build())
}
