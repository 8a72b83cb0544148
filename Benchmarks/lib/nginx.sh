# Sourced by the benchmark scripts (after processes.sh, with WORK set). start_nginx LISTEN...: serves 1 KiB of `x` as
# WORK/www/index.html with one nginx worker and no access log, on each LISTEN (an nginx `listen` argument, e.g.
# "127.0.0.1:18080 reuseport"), and adds nginx's master process to PIDS. WORK must be readable by nginx's unprivileged
# workers.
start_nginx() {
    mkdir -p "$WORK/www" "$WORK/nginx"
    head -c 1024 /dev/zero | tr '\0' 'x' > "$WORK/www/index.html"
    local listen="" address
    for address in "$@"; do listen+="        listen $address;"$'\n'; done
    cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    server {
$listen        root $WORK/www;
        location / { index index.html; }
    }
}
CONF
    nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
    PIDS+=($!)
}
