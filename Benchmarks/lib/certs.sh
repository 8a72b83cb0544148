# Sourced by the benchmark scripts. make_mesh_certs DIR makes, with openssl, a P-256 mesh CA (ca.pem, ca-key.pem)
# and a SPIFFE gateway certificate for east and west (NAME.pem, NAME-key.pem, and NAME.combined.pem for HAProxy):
# spiffe://bench.local/cluster/NAME/gateway, EKU serverAuth + clientAuth, so Meridian's verifier, HAProxy and Envoy
# all check the same chain.
make_mesh_certs() {
    mkdir -p "$1"
    (
        cd "$1"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem 2>/dev/null
        openssl req -x509 -new -key ca-key.pem -subj "/CN=Meridian bench CA" -days 2 -out ca.pem \
            -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectKeyIdentifier=hash" 2>/dev/null
        for cluster in east west; do
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$cluster-key.pem" 2>/dev/null
            openssl req -new -key "$cluster-key.pem" -subj "/O=Meridian/CN=$cluster" -out "$cluster.csr" 2>/dev/null
            cat > "$cluster.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:spiffe://bench.local/cluster/$cluster/gateway
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
            openssl x509 -req -in "$cluster.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -sha256 \
                -extfile "$cluster.ext" -out "$cluster.pem" 2>/dev/null
            cat "$cluster.pem" "$cluster-key.pem" > "$cluster.combined.pem"
        done
    )
}
