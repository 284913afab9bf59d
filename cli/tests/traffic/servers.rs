//! The servers the tests' Apps run in the example image, which has busybox but no server that
//! keeps connections alive or speaks WebSocket: shell scripts that busybox `nc` runs for each
//! connection, passed in an environment variable.

/// An HTTP/1.1 server that keeps connections alive, as most real servers do, so the ingress
/// pools its connections to the instances: every request gets `$VERSION` (the release under
/// test), except `/healthz`, which gets `404` unless `$HEALTHY` is `yes`. A request with
/// `Connection: close` (the health check's) ends the connection after its answer. Only shell
/// builtins run per request, so it keeps up with a load of clients.
pub const KEEP_ALIVE_HTTP: &str = r#"cr=$(printf '\r')
body="$VERSION
"
while IFS= read -r line; do
    path=${line#* }
    path=${path%% *}
    close=
    while IFS= read -r header; do
        header=${header%"$cr"}
        [ -z "$header" ] && break
        case $header in
            [Cc]onnection:*[Cc]lose*) close=1 ;;
        esac
    done
    if [ "$path" = /healthz ] && [ "$HEALTHY" != yes ]; then
        printf 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'
    else
        printf 'HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n%s' "${#body}" "$body"
    fi
    [ -z "$close" ] || exit 0
done
"#;

/// Lines of an App's `spec:` that run `script` for each connection to port 8080, with the
/// environment variables `env` (`name: value` pairs) besides. `sh` reads the script from
/// `/tmp`, which is mounted `noexec`.
pub fn script_spec(script: &str, env: &[(&str, &str)]) -> String {
    let indented: String = script
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    let mut spec = String::from(
        "  command: [\"sh\", \"-c\", \"printf '%s' \\\"$SERVER\\\" > /tmp/server.sh && exec nc -ll -p 8080 -e sh /tmp/server.sh\"]
  env:
",
    );
    for (name, value) in env {
        spec.push_str(&format!("    - {{name: {name}, value: {value}}}\n"));
    }
    spec.push_str("    - name: SERVER\n      value: |\n");
    spec.push_str(&indented);
    spec
}
