# Sourced by the benchmark scripts. haproxy_pair_configs DIR CERTS LOCAL_PORT TUNNEL_PORT UPSTREAM [LINE...] writes
# DIR/haproxy-east.cfg and DIR/haproxy-west.cfg, the HAProxy version of the gateway pair: east (HTTP mode, one thread)
# listens on 127.0.0.1:LOCAL_PORT and sends everything to west over mTLS 1.3 with ALPN h2 (127.0.0.1:TUNNEL_PORT, the
# certificates of make_mesh_certs in CERTS); west sends it on to UPSTREAM (HOST:PORT). Each LINE goes into both
# `defaults` sections (e.g. "option http-no-delay").
haproxy_pair_configs() {
    local dir=$1 certs=$2 local_port=$3 tunnel_port=$4 upstream=$5
    shift 5
    local defaults="defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always"
    local line
    for line in "$@"; do defaults+=$'\n'"    $line"; done
    cat > "$dir/haproxy-west.cfg" <<CONF
global
    nbthread 1
$defaults
frontend tunnel
    bind 127.0.0.1:$tunnel_port ssl crt $certs/west.combined.pem ca-file $certs/ca.pem verify required alpn h2 ssl-min-ver TLSv1.3
    default_backend upstream
backend upstream
    server upstream $upstream
CONF
    cat > "$dir/haproxy-east.cfg" <<CONF
global
    nbthread 1
    tune.ssl.default-dh-param 2048
$defaults
frontend local
    bind 127.0.0.1:$local_port
    default_backend west
backend west
    server west 127.0.0.1:$tunnel_port ssl crt $certs/east.combined.pem ca-file $certs/ca.pem verify required alpn h2 ssl-min-ver TLSv1.3
CONF
}
